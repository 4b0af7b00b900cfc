#!/usr/bin/env bash
# `make demo`: run what Consentry does today end to end, in ./demo-out, and say what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
C=.venv/bin/consentry
OUT=demo-out
rm -rf "$OUT"
export CONSENTRY_WORKSPACE="$OUT/workspace"
unset CONSENTRY_DB CONSENTRY_SECRET

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Create a workspace (SQLite ledger, opt-in policy, secret)"
$C init

step "2. Record choices, as a platform's apps would"
$C consent grant 1001 train --at 2024-07-27T08:00:00Z --source web --notice 2024-07
$C consent deny 1001 train --scope assistant --at 2024-08-01T08:00:00Z --source app
$C consent grant 1002 train --at 2024-07-28T09:30:00Z --source app
$C consent grant 1002 share --recipient acme-ai --at 2024-07-28T09:31:00Z --source app
$C consent deny 1002 train --at 2024-09-02T18:00:00Z --source gpc
PUBLISHED=$($C ledger head)

step "3. What each account decided (undecided purposes show the opt-in default)"
$C consent show 1001
$C consent history 1002

step "4. Prove the ledger: walk the chain, and check it against the head published at step 2"
$C consent grant 1003 answer --source api
$C ledger verify --against "$PUBLISHED"

step "Done"
echo "Recorded 6 decisions for 3 accounts in $CONSENTRY_WORKSPACE, showed their state and"
echo "history, and verified the hash chain against the head published earlier ($PUBLISHED)."
