#!/bin/sh
# Run by the case watchdog (runner.sh) when a case times out, before it is
# killed: what each process of the case's session is doing (state, wait
# channel, kernel stack), then the kernel's list of blocked tasks, so a
# hang reports where it hangs instead of only that it did.
#   dump-tasks.sh SID
sid=$1
echo "harness: timeout: the case's processes (pid, state, wait channel, command, kernel stack)"
for d in /proc/[0-9]*; do
	# Fields after "(comm) ": state ppid pgrp session ...
	s=$(sed 's/.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f4)
	[ "$s" = "$sid" ] || continue
	echo "-- ${d#/proc/} $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)"
	for t in "$d"/task/*; do
		echo "   thread ${t##*/} $(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null)" \
			"wchan=$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/     /' "$t/stack" 2>/dev/null
	done
done
echo w >/proc/sysrq-trigger 2>/dev/null
exit 0
