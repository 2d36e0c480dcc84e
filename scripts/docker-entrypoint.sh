#!/bin/sh
# The image's entry point: runs `plantproof` with its arguments, after turning each variable named
# *PASSWORD_FILE (e.g. PGPASSWORD_FILE, PLANTPROOF_COLLECTOR_MQTT__PASSWORD_FILE) into the variable
# without the _FILE suffix, set to that file's contents (a Docker secret, trailing newlines dropped).
# The settings read passwords from the environment only; this keeps them out of env files and
# `docker inspect`. The *_FILE variable is removed: the collector's settings refuse unknown keys.
set -eu
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*PASSWORD\)_FILE=.*/\1/p'); do
    eval "file=\${${name}_FILE}"
    value=$(cat "$file")  # a missing or unreadable secret stops the container here
    export "$name=$value"
    unset "${name}_FILE"
done
exec plantproof "$@"
