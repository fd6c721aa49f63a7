#!/bin/sh
# Harness self-test: a case that ends without calling pass fails, even
# with exit status 0 and no error anywhere.
# expect-fail: exited 0 without the success marker
# detects: a case that exits 0 without its success marker
# cost: 10
# timeout: 20
log "every check fine, but no pass at the end"
exit 0
