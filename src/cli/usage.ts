/** The options `mount` and `serve` share. */
const nodeOptions = `  --slots N        leaf capacity of this node (default: the CPU count; 0: it
                   runs nothing itself, every leaf and task goes to its children)
  --strict-slots   refuse reservations beyond --slots instead of oversubscribing
  --name NAME      node name (default: the host name)
  --workdir DIR    spools and default working directory
                   (default: $XDG_STATE_HOME/taskfs/NAME@WHERE, WHERE the mount point
                   or listen address; .2, .3 ... while a live node holds it)
  --listen ADDR    also serve the node over 9P2000 at ADDR: tcp!host!port,
                   host:port or unix!/path (beyond loopback only with --key)
  --http ADDR      serve the web monitor at ADDR: host:port or port (beyond
                   loopback only with --key, which the page then asks for)
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
  --slurm PARTITION  mount that Slurm partition as a child node: its capacity
                   is its idle CPUs, res N there is an allocation of N tasks
  --slurm-option=OPT given to salloc and srun as it is (repeatable)
  --slurm-taskfs PATH  taskfs on the allocated hosts (default: taskfs)
  --max-sessions N sessions on this node, leaves included (default 10000)
  --max-leaves N   leaves one res may ask for (default 4096)
  --spool-limit B  output one leaf may spool before it is paused, e.g. 512M
                   (default 16G; 0 for none)
  -h, --help       this text

Limits can be changed at run time: echo limit sessions|leaves|spool N > ctl
`;

const mountOption = `  -m, --mount DIR  the mounted node (default $TASKFS_MOUNT, else ~/tasks)`;

export const usage = {
  main: `usage: taskfs COMMAND [OPTIONS]

Distributed task execution as files.

commands:
  mount [MOUNTPOINT]   serve a node through FUSE at MOUNTPOINT (default ~/tasks)
  serve --listen ADDR  serve a node over 9P2000 only (no FUSE): compute nodes
  serve --stdio        serve one 9P2000 connection on stdin/stdout (for ssh, srun)
  run CMD [ARG...]     run CMD on leaves of a mounted node, print its output
  submit [FILE]        make a job of FILE's tasks, one a line
  jobs                 the jobs of a mounted node, a table
  nodes                the workers of a mounted node, a table
  top                  a live view of nodes, sessions and jobs
  9p read|write|ls PATH  one file of a node's tree over 9P (leaves of a node with no mount)
  join ADDR            a worker: dial the node at ADDR and serve this node to it
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
  file: `usage: taskfs 9p [-a ADDR] read|write|ls PATH

Read a file of a node's tree to stdout, write stdin to it in one write, or
list a directory, over 9P2000. ADDR defaults to $TASKFS_NODE, which leaves
of a node without a FUSE mount get, with TASKFS_ROOT, TASKFS_SESSION and
TASKFS_PARENT as paths in that node's tree:

  echo hi | taskfs 9p write $TASKFS_ROOT/ranks/3/mbox/ring
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
  run: `usage: taskfs run [-m DIR] [-n N] [--label | --fold] [--where OS[/MACHINE]] CMD [ARG...]

Run CMD on N leaves of the node mounted at DIR, as the files would: clone,
res N, exec CMD, print the output as it comes, wipe. The exit status is the
highest of the leaves' (a lost leaf 255, one that could not start 127).
Ctrl-C kills the leaves; a second Ctrl-C leaves at once.

options:
${mountOption}
  -n, --leaves N   how many leaves (default 1)
  --label          put each line behind its leaf's rank (and node, on a tree)
  --fold           print each distinct output once, under the ranks that gave it
  --where OS[/MACHINE]  only leaves of this kind, e.g. Linux/x86_64 or */aarch64
  -h, --help       this text
`,
  submit: `usage: taskfs submit [-m DIR] [--priority P] [--name NAME] [--wait] [FILE | -]

Make a job of the tasks in FILE (or stdin), one command a line in Plan 9
quoting ('sh -c ...' for a shell line), close it and print its number.
Blank lines and lines starting with # are skipped.

options:
${mountOption}
  --priority P     high, normal, low or a whole number (default normal)
  --name NAME      the job's name (default the file's name)
  --wait           stay until the job is complete: the tasks' output as they
                   end, progress on a terminal; exit 1 if a task failed
  -h, --help       this text
`,
  jobs: `usage: taskfs jobs [-m DIR]

The jobs of the node mounted at DIR, one a line: number, state, priority,
tasks queued, running, done and failed, and name.

options:
${mountOption}
  -h, --help       this text
`,
  nodes: `usage: taskfs nodes [-m DIR]

The workers of the node mounted at DIR, one a line: name, state, slots,
busy slots and attributes.

options:
${mountOption}
  -h, --help       this text
`,
  top: `usage: taskfs top [-m DIR] [-d SECONDS]

A live view of the node mounted at DIR: its nodes with capacity and load,
its sessions with the states of their leaves, its jobs with their progress.
q quits. Not on a terminal it prints the view once.

options:
${mountOption}
  -d, --delay S    seconds between redraws (default 1)
  -h, --help       this text
`,
  join: `usage: taskfs join ADDR [--name NAME] [--slots N] [--attr KEY=VALUE]... [--key FILE]

A worker: dial the node listening at ADDR (tcp!host!port, host:port or
unix!/path) and serve this machine's own node to it over that connection,
so a worker behind a firewall or NAT can serve. The node lists it in
nodes/, ns and jobs/nodes and uses it for res and for jobs. When the
connection drops it joins again, with backoff, until SIGINT or SIGTERM.

options:
  --name NAME      worker name (default: the host name)
  --slots N        leaf capacity (default: the CPU count)
  --attr KEY=VALUE an attribute jobs can need (repeatable), e.g. gpu=yes
  --key FILE       shared secret: both ends prove they hold it
  --workdir DIR    spools and default working directory
  -h, --help       this text
`,
};
