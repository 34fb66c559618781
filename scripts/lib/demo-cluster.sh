# A small demo cluster for the console scripts, sourced by them: a harness
# ZooKeeper on a free loopback port, three script jobs (16 items, firing
# every 1, 2 and 5 seconds; one item of `orders` fails every run) on two
# `ejob run` workers, and a SQLite history. Expects BIN (the cargo profile
# dir holding ejob and zk-harness) and WORK (a scratch dir); sets ZK,
# HISTORY and NS and appends every process it starts to PIDS.

demo_cleanup() {
  # Newest first: browsers, console, workers, and ZooKeeper last, so that
  # everyone leaves it cleanly instead of waiting out a lost connection.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}

demo_cluster() {
  # ZooKeeper: the harness prints its address and stops when its stdin closes.
  mkfifo "$WORK/zk.in"
  "$BIN/zk-harness" < "$WORK/zk.in" > "$WORK/zk.out" 2>/dev/null &
  PIDS+=($!)
  exec 3> "$WORK/zk.in"
  for _ in $(seq 300); do [ -s "$WORK/zk.out" ] && break; sleep 0.1; done
  ZK="$(head -1 "$WORK/zk.out")"
  HISTORY="sqlite://$WORK/history.db"
  NS=demo
  cat > "$WORK/work.sh" <<'SCRIPT'
# Item 5 of orders fails, to show failures; the others work for 200 ms.
sleep 0.2
case "$1" in *'"jobName":"orders"'*'"shardingItem":5,'*) echo "upstream refused item 5" >&2; exit 3 ;; esac
SCRIPT
  demo_job orders '* * * * * ?' 8
  demo_job invoices '0/2 * * * * ?' 4
  demo_job settlement '0/5 * * * * ?' 4
  for worker in 1 2; do
    "$BIN/ejob" --zk "$ZK" --namespace "$NS" --history "$HISTORY" run \
      "$WORK"/orders.yaml "$WORK"/invoices.yaml "$WORK"/settlement.yaml > "$WORK/worker$worker.out" 2>&1 &
    PIDS+=($!)
  done
}

demo_job() {
  printf "jobName: %s\ncron: '%s'\nshardingTotalCount: %s\nfailover: true\nprops:\n  script.command.line: sh %s\n" \
    "$1" "$2" "$3" "$WORK/work.sh" > "$WORK/$1.yaml"
}
