#!/bin/sh
# forkd-valgrind.sh: run forkd under valgrind memcheck; any error or definite
# or indirect leak makes forkd exit 99, which the test harness reports as a
# failed forkd exit. The real binary is $FORKD_REAL_BIN.
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    "$FORKD_REAL_BIN" "$@"
