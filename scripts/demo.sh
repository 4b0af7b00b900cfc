#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded default, in ./demo-out:
# a synthetic platform → import → consent-gated snapshots → verification. Says what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
C=.venv/bin/consentry
OUT=demo-out
POSTS=${DEMO_POSTS:-30000}
rm -rf "$OUT"
export CONSENTRY_WORKSPACE="$OUT/workspace"
unset CONSENTRY_DB CONSENTRY_SECRET
started=$(date +%s)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A synthetic platform: accounts in several countries, posts, replies, reposts, DMs, chatbot conversations, likes, a consent history, and planted personal data"
$C demo generate --out "$OUT/platform" --seed 7 --posts "$POSTS"

step "2. A workspace (SQLite ledger, opt-in policy, secret) and the platform's export imported into it"
$C init
$C import canonical "$OUT/platform"
PUBLISHED=$($C ledger head)

step "3. The main job: a training snapshot holding only what authors consented to"
$C snapshot build --purpose train --out "$OUT/snapshots/train"

step "4. The same for a third party: it also needs each author's consent to share"
$C recipient add acme-ai --contact dpo@acme.example
$C snapshot build --purpose train --recipient acme-ai --out "$OUT/snapshots/acme-ai"

step "5. Someone changes their mind; the ledger and both snapshots still prove themselves"
# Someone whose posts went to acme-ai (asked through `whereis`, as they could ask themselves).
for candidate in $(grep '"purpose":"share","decision":"grant"' "$OUT/platform/consent.jsonl" \
    | sed -E 's/.*"account_id":"([^"]+)".*/\1/' | head -n 8); do
  if $C whereis "$candidate" --json | grep -q '"recipient": "acme-ai"'; then
    ACCOUNT=$candidate
    break
  fi
done
ACCOUNT=${ACCOUNT:-$(head -n 1 "$OUT/platform/accounts.jsonl" | sed -E 's/.*"id": *"([^"]+)".*/\1/')}
$C consent deny "$ACCOUNT" train --source app
$C ledger verify --against "$PUBLISHED"
$C snapshot verify "$OUT/snapshots/train"
$C snapshot verify "$OUT/snapshots/acme-ai"

step "6. Where that person's data went, what the recipient must delete, and an erasure"
$C whereis "$ACCOUNT"
$C compliance feed --recipient acme-ai --limit 3 --format csv
$C erase "$ACCOUNT" --yes
$C snapshot verify "$OUT/snapshots/acme-ai"

step "7. What a snapshot holds, and one record beside the text it was made from"
$C snapshot list
$C snapshot show "$OUT/snapshots/train" --head 1 --with-pii --original

step "Done in $(( $(date +%s) - started )) s"
cat <<MSG
Generated a platform of $POSTS items, imported it, built two consent-gated, pseudonymised and
scrubbed snapshots (for training, and for the recipient acme-ai), recorded a withdrawal, verified
the ledger against the head published after the import, and verified both snapshots: checksums,
Merkle root, and every record's eligibility re-derived from the ledger as of its position. Then
showed where the person's records went, the recipient's deletion events, and erased the account
(certificate in $OUT/workspace/certificates/). Last, one record as the snapshot holds it
(handles, emails, URLs… replaced) beside its original in the content store.
Look at: $OUT/snapshots/train/manifest.json, README.md (dataset card), croissant.json, data/,
or \`consentry snapshot show $OUT/snapshots/train --head 10\`.
MSG
