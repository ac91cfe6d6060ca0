export const usage = {
  main: `usage: taskfs COMMAND [OPTIONS]

Distributed task execution as files.

commands:
  mount [MOUNTPOINT]   serve a node through FUSE at MOUNTPOINT (default ~/tasks)
  help                 this text

'taskfs COMMAND --help' describes the options of a command.
`,
  mount: `usage: taskfs mount [MOUNTPOINT] [OPTIONS]

Mount a taskfs node at MOUNTPOINT (default ~/tasks, created if missing) and
stay in the foreground until SIGINT or SIGTERM; then kill every process the
node started and unmount. A stale mount left by a crash is cleared first;
a non-empty ordinary directory is refused.

options:
  --slots N        leaf capacity of this node (default: the CPU count)
  --strict-slots   refuse reservations beyond --slots instead of oversubscribing
  --name NAME      node name (default: the host name)
  --workdir DIR    spools and default working directory
                   (default: $XDG_STATE_HOME/taskfs/NAME or ~/.local/state/taskfs/NAME)
  -h, --help       this text

environment:
  DEBUG=taskfs:*   log every layer to stderr (or taskfs:fuse, taskfs:session, ...)
`,
};
