# bash completion for cbt(8)                               -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0

# Add the words compgen "$@" finds to COMPREPLY.
_cbt_add() {
	local w
	while IFS= read -r w; do
		COMPREPLY+=("$w")
	done < <(compgen "$@")
}

# Device names from `cbt status --json' (needs root), and paths.
_cbt_devices() {
	local names
	names=$(cbt status --json 2>/dev/null | sed -n 's/^ *"name": "\(.*\)",$/\1/p')
	_cbt_add -W "$names" -- "$1"
	[[ $1 == /* ]] && _cbt_add -f -- "$1"
}

_cbt() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	# The subcommands, as tools/cbt.c's table lists them.
	local cmds="status bitmap epoch snapshot attach detach setup-boot backup restore mount unmount serve verify info export merge prune keygen job clone migrate monitor version help"
	COMPREPLY=()

	if [[ $COMP_CWORD -eq 1 ]]; then
		_cbt_add -W "$cmds" -- "$cur"
		return
	fi
	case ${COMP_WORDS[1]} in
	status)
		if [[ $cur == -* ]]; then
			_cbt_add -W "--json --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	bitmap)
		case $prev in
		--epoch | --range) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--epoch --range --extents --json --summary --blocks --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	monitor)
		case $prev in
		--count) return ;;
		esac
		_cbt_add -W "--json --count --help" -- "$cur"
		;;
	epoch)
		[[ $prev == --epoch ]] && return
		if [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_add -W "close commit abort --help" -- "$cur"
		elif [[ $cur == -* ]]; then
			case ${COMP_WORDS[2]} in
			commit) _cbt_add -W "--all --epoch --oldest --json --help" -- "$cur" ;;
			abort) _cbt_add -W "--all --epoch --json --help" -- "$cur" ;;
			*) _cbt_add -W "--all --json --help" -- "$cur" ;;
			esac
		else
			_cbt_devices "$cur"
		fi
		;;
	snapshot)
		case $prev in
		--chunk) _cbt_add -W "4K 16K 64K 256K 1M" -- "$cur"; return ;;
		--cow) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		esac
		if [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_add -W "take release drop list --help" -- "$cur"
		elif [[ $cur == -* ]]; then
			case ${COMP_WORDS[2]} in
			take) _cbt_add -W "--cow --freeze --no-freeze --chunk --preserve --force --json --help" -- "$cur" ;;
			list) _cbt_add -W "--json --help" -- "$cur" ;;
			drop) _cbt_add -W "--force --json --help" -- "$cur" ;;
			esac
		elif [[ ${COMP_WORDS[2]} == take || ( ${COMP_WORDS[2]} =~ ^(drop|release)$ && $COMP_CWORD -eq 3 ) ]]; then
			_cbt_devices "$cur"
		fi
		;;
	backup)
		case $prev in
		--to) _cbt_add -d -- "$cur"; return ;;
		-o | --output | --cow | --encrypt | --key) _cbt_add -f -- "$cur"; return ;;
		--compress) _cbt_add -W "zstd zstd:1 zstd:3 zstd:9 zstd:19 none" -- "$cur"; return ;;
		--s3-config) _cbt_add -f -- "$cur"; return ;;
		--threads | --split) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--full --incremental --differential --to --output --cow --force --freeze
				--no-freeze --compress --all-blocks --auto-full --whole-snapshot --threads --idle --split --s3-config
				--encrypt --key --quiet --json --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	restore | verify | info | export)
		case $prev in
		--image | --at | --threads) return ;;
		--spool-dir) _cbt_add -d -- "$cur"; return ;;
		--s3-config | --key) _cbt_add -f -- "$cur"; return ;;
		--format) _cbt_add -W "raw qcow2" -- "$cur"; return ;;
		esac
		if [[ $cur == -* ]]; then
			case ${COMP_WORDS[1]} in
			restore) _cbt_add -W "--image --at --no-preverify --spool-dir --s3-config --path --recursive
				--output --key --threads --quiet --json --help" -- "$cur" ;;
			verify) _cbt_add -W "--json --quiet --s3-config --key --threads --help" -- "$cur" ;;
			info) _cbt_add -W "--json --s3-config --key --help" -- "$cur" ;;
			export) _cbt_add -W "--format --image --output --s3-config --key --quiet --help" -- "$cur" ;;
			esac
		else
			_cbt_add -f -- "$cur"
		fi
		;;
	merge | prune)
		case $prev in
		--upto | --from | --keep-* | --threads) return ;;
		--compress) _cbt_add -W "zstd zstd:1 zstd:3 zstd:9 zstd:19 none" -- "$cur"; return ;;
		--key | --s3-config) _cbt_add -f -- "$cur"; return ;;
		esac
		if [[ $cur == -* ]]; then
			case ${COMP_WORDS[1]} in
			merge) _cbt_add -W "--upto --from --compress --threads --key --s3-config --json
				--help" -- "$cur" ;;
			prune) _cbt_add -W "--keep-last --keep-daily --keep-weekly --keep-monthly --dry-run
				--compress --threads --key --s3-config --json --help" -- "$cur" ;;
			esac
		else
			_cbt_add -d -- "$cur"
		fi
		;;
	keygen)
		if [[ $cur == -* ]]; then
			_cbt_add -W "--help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_add -f -- "$cur"
		fi
		;;
	job)
		case $prev in
		--config-dir | --unit-dir) _cbt_add -d -- "$cur"; return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--config-dir --unit-dir --json --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_add -W "run list status enable" -- "$cur"
		elif [[ $COMP_CWORD -eq 3 ]]; then
			_cbt_add -W "$(ls "${CBT_CONFIG_DIR:-/etc/cbt}"/jobs.d 2>/dev/null | sed -n 's/\.conf$//p')" -- "$cur"
		fi
		;;
	mount | unmount | serve)
		case $prev in
		--at | --image | --partition | --tcp | --bitmap-name) return ;;
		--cow) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		--socket | --tls-psk | --key | --s3-config) _cbt_add -f -- "$cur"; return ;;
		--tls-certificates) _cbt_add -d -- "$cur"; return ;;
		esac
		if [[ $cur == -* ]]; then
			case ${COMP_WORDS[1]} in
			mount) _cbt_add -W "--at --writable --partition --device-only --key --s3-config
				--help" -- "$cur" ;;
			unmount) _cbt_add -W "--help" -- "$cur" ;;
			serve) _cbt_add -W "--at --socket --tcp --tls-certificates --tls-psk --key --s3-config --snapshot
				--cow --force --freeze --no-freeze --bitmap-name --help" -- "$cur" ;;
			esac
		else
			_cbt_add -f -- "$cur"
		fi
		;;
	clone)
		case $prev in
		--cow) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		--state-dir) _cbt_add -d -- "$cur"; return ;;
		--interval | --max-passes | --rate | --throttle | --converge | --final-pass-ms) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--cow --used-only --force --verify --follow --interval --max-passes
				--freeze --no-freeze --json --quiet --rate --throttle --converge --final-pass-ms --state-dir
				--keep-snapshot --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		else
			_cbt_add -f -- "${cur:-/dev/}"
		fi
		;;
	migrate)
		case $prev in
		--cow) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		--state-dir) _cbt_add -d -- "$cur"; return ;;
		--grow) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--cow --dry-run --grow --force --json --quiet --state-dir --help" -- "$cur"
		else
			_cbt_add -f -- "${cur:-/dev/}"
		fi
		;;
	attach)
		case $prev in
		-b | --block-size) _cbt_add -W "4k 16k 64k 256k 1M" -- "$cur"; return ;;
		-m | --metadata) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		-n | --name) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--block-size --metadata --name --help" -- "$cur"
		else
			_cbt_add -W "$(dmsetup ls 2>/dev/null | awk '$1 != "No" { print $1 }')" -- "$cur"
			[[ $cur == /* ]] && _cbt_add -f -- "$cur"
		fi
		;;
	detach)
		if [[ $cur == -* ]]; then
			_cbt_add -W "--keep-metadata --help" -- "$cur"
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	setup-boot)
		case $prev in
		-b | --block-size) _cbt_add -W "4k 16k 64k 256k 1M" -- "$cur"; return ;;
		-m | --metadata) _cbt_add -f -- "${cur:-/dev/}"; return ;;
		-n | --name | --remove) return ;;
		esac
		if [[ $cur == -* ]]; then
			_cbt_add -W "--name --block-size --metadata --remove --no-initramfs --help" -- "$cur"
		else
			_cbt_add -f -- "${cur:-/dev/}"
		fi
		;;
	help)
		[[ $COMP_CWORD -eq 2 ]] && _cbt_add -W "$cmds" -- "$cur"
		;;
	esac
}
complete -F _cbt cbt
