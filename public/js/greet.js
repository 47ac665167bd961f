// Imported by app.js, so the home page loads two ES modules, not one.

/** A greeting that fits the time of day. */
export function greeting(date) {
  const hour = date.getHours();
  if (hour < 12) return "Good morning";
  if (hour < 18) return "Good afternoon";
  return "Good evening";
}

/** The time as HH:MM:SS in the reader's locale. */
export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
