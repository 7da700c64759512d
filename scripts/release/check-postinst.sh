#!/bin/sh
# check-postinst.sh POSTINST WORKDIR runs a package's postinst against stub
# commands (getent, adduser/addgroup or useradd/groupadd, install,
# systemctl) that record their calls instead of changing this machine, and
# checks that "configure" creates the serf group and system user exactly
# once, however often it runs, with either the adduser tools or only
# useradd, and that it never enables or starts the service.
# The stub bodies are single-quoted on purpose: they expand when a stub runs.
# shellcheck disable=SC2016
set -eu

postinst=$1
work=$2

fails=0
die() {
	echo "check-postinst: $*" >&2
	fails=$((fails + 1))
}

# stub NAME BODY: writes an executable NAME into $bin; BODY runs with $STATE
# and $LOG set, and may use only shell builtins (PATH holds only stubs).
stub() {
	printf '#!/bin/sh\necho "%s $*" >>"$LOG"\n%s\n' "$1" "$2" >"$bin/$1"
	chmod 0755 "$bin/$1"
}

for mode in adduser useradd; do
	dir=$work/$mode
	bin=$dir/bin
	STATE=$dir/state
	LOG=$dir/log
	mkdir -p "$bin" "$STATE"
	: >"$LOG"
	export STATE LOG

	stub getent '[ -e "$STATE/$1.$2" ]'
	stub install ':'
	stub systemctl ':'
	if [ $mode = adduser ]; then
		stub addgroup ': >"$STATE/group.serf"'
		stub adduser '[ -e "$STATE/group.serf" ] || exit 1; : >"$STATE/passwd.serf"'
	else
		stub groupadd ': >"$STATE/group.serf"'
		stub useradd '[ -e "$STATE/group.serf" ] || exit 1; : >"$STATE/passwd.serf"'
	fi

	for run in 1 2 3; do
		if ! PATH=$bin /bin/sh "$postinst" configure ""; then
			die "$mode: postinst configure run $run failed"
		fi
	done
	if ! PATH=$bin /bin/sh "$postinst" abort-upgrade; then
		die "$mode: postinst abort-upgrade failed"
	fi
	if PATH=$bin /bin/sh "$postinst" bogus 2>/dev/null; then
		die "$mode: postinst accepted an unknown argument"
	fi

	if [ $mode = adduser ]; then user_cmd=adduser group_cmd=addgroup; else user_cmd=useradd group_cmd=groupadd; fi
	n=$(grep -c "^$user_cmd " "$LOG" || true)
	[ "$n" = 1 ] || die "$mode: $user_cmd ran $n times over three runs, want 1"
	n=$(grep -c "^$group_cmd " "$LOG" || true)
	[ "$n" = 1 ] || die "$mode: $group_cmd ran $n times over three runs, want 1"
	grep -q "^$user_cmd .*--system" "$LOG" || die "$mode: $user_cmd was not asked for a system user"
	grep -q "^$user_cmd .*/var/lib/serf" "$LOG" || die "$mode: the user's home is not /var/lib/serf"
	n=$(grep -c '^install -d -o serf -g serf -m 0750 /var/lib/serf$' "$LOG" || true)
	[ "$n" = 3 ] || die "$mode: /var/lib/serf was set up $n times over three runs, want 3"
	if grep -E '^systemctl .*(enable|start|restart)' "$LOG"; then
		die "$mode: postinst enabled or started the service"
	fi
done

[ "$fails" = 0 ] && echo "check-postinst: ok"
