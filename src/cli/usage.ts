/** The options `mount` and `serve` share. */
const nodeOptions = `  --slots N        leaf capacity of this node (default: the CPU count; 0 with
                   children: every leaf goes to them)
  --strict-slots   refuse reservations beyond --slots instead of oversubscribing
  --name NAME      node name (default: the host name)
  --workdir DIR    spools and default working directory
                   (default: $XDG_STATE_HOME/taskfs/NAME or ~/.local/state/taskfs/NAME)
  --listen ADDR    also serve the node over 9P2000 at ADDR: tcp!host!port,
                   host:port or unix!/path (beyond loopback only with --key)
  --remote ADDR    mount the node at ADDR as a child (repeatable); more at run
                   time with 'echo mount ADDR NAME > ctl'. ADDR may be
                   ssh![user@]host[!port]: taskfs serve --stdio run there by ssh
  --hosts LIST     one ssh child per host of a hostlist (pdsh/Slurm syntax:
                   node[01-16],gpu[1-2,5],user@login), connected in parallel;
                   a host that fails is one line on stderr and 'down' in ns
  --ssh-taskfs PATH  taskfs on the hosts (default: taskfs on the remote PATH)
  --ssh-option OPT ssh -o OPT for every ssh child (repeatable), e.g. Port=2222
  --key FILE       shared secret (the file's content, mode 0600): 9P clients
                   must prove they hold it, and children must prove it to us
  --max-sessions N sessions on this node, leaves included (default 10000)
  --max-leaves N   leaves one res may ask for (default 4096)
  --spool-limit B  output one leaf may spool before it is paused, e.g. 512M
                   (default 16G; 0 for none)
  -h, --help       this text

Limits can be changed at run time: echo limit sessions|leaves|spool N > ctl
`;

export const usage = {
  main: `usage: taskfs COMMAND [OPTIONS]

Distributed task execution as files.

commands:
  mount [MOUNTPOINT]   serve a node through FUSE at MOUNTPOINT (default ~/tasks)
  serve --listen ADDR  serve a node over 9P2000 only (no FUSE): compute nodes
  serve --stdio        serve one 9P2000 connection on stdin/stdout (for ssh, srun)
  version              print the version (ssh children must run the same)
  help                 this text

'taskfs COMMAND --help' describes the options of a command.
`,
  mount: `usage: taskfs mount [MOUNTPOINT] [OPTIONS]

Mount a taskfs node at MOUNTPOINT (default ~/tasks, created if missing) and
stay in the foreground until SIGINT or SIGTERM; then kill every process the
node started and unmount. A stale mount left by a crash is cleared first;
a non-empty ordinary directory is refused.

options:
  --allow-other    let other users use the mount (FUSE allow_other; needs
                   user_allow_other in /etc/fuse.conf); private by default
${nodeOptions}
environment:
  DEBUG=taskfs:*   log every layer to stderr (or taskfs:fuse, taskfs:session, ...)
  TASKFS_SSH       the ssh command for ssh children, e.g. 'ssh -F ~/cluster.conf'
`,
  serve: `usage: taskfs serve --listen ADDR [OPTIONS]
       taskfs serve --stdio [OPTIONS]

Serve a taskfs node over 9P2000 only (no FUSE needed), in the foreground
until SIGINT or SIGTERM. Parents mount it with --remote ADDR or
'echo mount ADDR NAME > ctl'; any 9P2000 client (9pfuse, Inferno mount)
can mount it too. With --stdio it serves exactly one 9P connection on its
stdin and stdout (what ssh and srun start) and stops, killing what it
started, when that connection closes.

options:
  --stdio          serve one connection on stdin/stdout, then stop
${nodeOptions}
environment:
  DEBUG=taskfs:*   log every layer to stderr
  TASKFS_SSH       the ssh command for ssh children, e.g. 'ssh -F ~/cluster.conf'
`,
};
