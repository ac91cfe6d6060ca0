#!/bin/bash
# 1 GiB staged to 4 child nodes (README "Staging", Memory): peak RSS of
# every daemon, and the times. Run by hand (it needs 10 GiB of disk and
# minutes); not part of scripts/bench. Usage: bench/staging-1g.sh
set -e
T=$(cd "$(dirname "$0")/.." && pwd)/bin/taskfs
D=$(mktemp -d /tmp/taskfs-staging-1g.XXXXXX)
mkdir -p $D/mnt
pids=(); addrs=()
for i in 1 2 3 4; do
  $T serve --listen 'tcp!127.0.0.1!0' --workdir $D/w$i --slots 1 2> $D/err$i > /dev/null &
  pids+=($!)
done
for i in 1 2 3 4; do
  until grep -q 'listening on' $D/err$i; do sleep 0.5; done
  addrs+=(--remote "$(grep -o 'listening on [^ ]*' $D/err$i | cut -d' ' -f3)")
done
$T mount $D/mnt --workdir $D/wroot "${addrs[@]}" 2> $D/errroot &
rootpid=$!
trap 'kill $rootpid ${pids[*]} 2>/dev/null' EXIT
until grep -q 'mounted on' $D/errroot; do sleep 0.5; done
cd $D/mnt
t0=$(date +%s.%N)
head -c 1073741824 /dev/urandom > fs/big.bin
t1=$(date +%s.%N)
n=$(cat clone)
echo res 4 > $n/ctl
echo exec md5sum big.bin > $n/ctl
cat $n/stdout
t2=$(date +%s.%N)
md5sum < fs/big.bin
cat fs/.sent
echo "write into fs/: $(awk "BEGIN{print $t1 - $t0}") s; stage to 4 children + md5 on leaves: $(awk "BEGIN{print $t2 - $t1}") s"
t3=$(date +%s.%N)
echo exec true > $n/ctl; cat $n/wait > /dev/null
t4=$(date +%s.%N)
echo "second exec (nothing sent): $(awk "BEGIN{print $t4 - $t3}") s"; cat fs/.sent
for p in $rootpid "${pids[@]}"; do grep VmHWM /proc/$p/status | sed "s/^/$p /"; done
cd /
kill $rootpid "${pids[@]}"; wait
rm -rf $D
