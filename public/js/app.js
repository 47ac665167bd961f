// Fills the status line on the home page. Loaded with <script type="module">.
import { greeting, clock } from "./greet.js";

const status = document.getElementById("status");
const scheme = location.protocol === "https:" ? "HTTPS" : "HTTP";
const liveReload = document.querySelector('script[src^="/__devserve/"]') !== null;

const line = document.createElement("span");
const note = document.createElement("small");
note.textContent = liveReload
  ? "Live reload is on: saved files show up here without a reload."
  : "Live reload is off: reload the page to see your edits.";

function render() {
  const now = new Date();
  line.textContent = `${greeting(now)}. Served by devserve over ${scheme} at ${clock(now)}.`;
}

if (status) {
  render();
  status.replaceChildren(line, note);
  setInterval(render, 1000);
}
