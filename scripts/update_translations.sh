#!/usr/bin/env bash
# Extract UI strings from webapp/ (babel.cfg), merge them into the zh_CN and en catalogs, and
# compile the .mo files (both .po and .mo are committed). After running: translate every empty
# msgstr in webapp/translations/zh_Hans_CN/LC_MESSAGES/messages.po (English is filled from the msgids),
# clear any "fuzzy" flags, and run again to compile.
# The Chinese catalog lives in zh_Hans_CN/: Babel spells the zh_CN locale "zh_Hans_CN" and
# gettext looks for exactly that directory name (a "zh_CN" folder would silently not load).
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
DIR=webapp/translations
POT=$DIR/messages.pot
mkdir -p "$DIR"

"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
  --project FieldKit --copyright-holder "FieldKit contributors" -o "$POT" .
for lang in zh_Hans_CN en; do
  if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
    "$PYBABEL" update -i "$POT" -d "$DIR" -l "$lang" --no-fuzzy-matching --ignore-obsolete
  else
    "$PYBABEL" init -i "$POT" -d "$DIR" -l "$lang"
  fi
done
# English is the source language: an empty English msgstr is the msgid itself.
"${PYTHON:-.venv/bin/python}" - "$DIR/en/LC_MESSAGES/messages.po" <<'PY'
import sys
from babel.messages.pofile import read_po, write_po
path = sys.argv[1]
with open(path, "rb") as fh:
    catalog = read_po(fh, locale="en")
for message in catalog:
    if message.id and not (message.string[0] if message.pluralizable else message.string):
        message.string = message.id
    message.flags.discard("fuzzy")
with open(path, "wb") as fh:
    write_po(fh, catalog, no_location=True, sort_output=True)
PY
"$PYBABEL" compile -d "$DIR" --statistics
