#!/bin/sh
# worker.sh MOUNTDIR: a taskfs pull worker (README "Jobs: the pull door").
# Takes tasks from MOUNTDIR/jobs/task, runs each with sh, and writes back its
# exit status and output; a task it holds goes back to the queue if it dies.
door="${1:?usage: worker.sh MOUNTDIR}/jobs/task"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
exec 3<>"$door" || exit 1
[ -z "$WORKER_NAME" ] || echo "name $WORKER_NAME" >&3
while read -r job id try cmd <&3; do
  TASKFS_JOB=$job TASKFS_TASK=$id TASKFS_TRY=$try sh -c "$cmd" </dev/null 3<&- >"$tmp/out" 2>"$tmp/err"
  echo "result $job $id $? $(wc -c <"$tmp/out") $(wc -c <"$tmp/err")" | cat - "$tmp/out" "$tmp/err" >&3
done
