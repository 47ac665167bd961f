// libinotifytools for Swift. Debian ships no pkg-config file for it, so the module map links it
// by name; this header adds what Swift cannot reach directly.
#ifndef DEVSERVE_CINOTIFYTOOLS_SHIM_H
#define DEVSERVE_CINOTIFYTOOLS_SHIM_H

#include <stdint.h>
#include <sys/select.h>
#include <inotifytools/inotifytools.h>
#include <inotifytools/inotify.h>

/// The file name that follows an event in the buffer: a flexible array member, which Swift does
/// not import. Empty for events about the watched folder itself.
static inline const char *cinotifytools_event_name(const struct inotify_event *event) {
    return event->len > 0 ? event->name : "";
}

/// FD_SETSIZE. The library waits with select(2), which cannot handle a descriptor this high.
static inline int cinotifytools_fd_setsize(void) {
    return FD_SETSIZE;
}

/// What a folder watch asks for: finished writes, names appearing and going, and the folder's
/// own end. IN_ONLYDIR so a file is never watched by mistake (a root may be a symbolic link to
/// a folder, so links are followed; below the roots only real folders are watched);
/// IN_EXCL_UNLINK so files already deleted but still open stay quiet.
static inline uint32_t cinotifytools_folder_mask(void) {
    return IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF
        | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
}

#endif
