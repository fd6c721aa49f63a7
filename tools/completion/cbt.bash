# bash completion for cbt(8)                               -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0

_cbt_devices() {
	local names
	names=$(cbt status --json 2>/dev/null | sed -n 's/^ *"name": "\(.*\)",$/\1/p')
	COMPREPLY+=($(compgen -W "$names" -- "$1"))
	# paths: /dev/mapper/NAME, /dev/dm-N
	[[ $1 == /* ]] && COMPREPLY+=($(compgen -f -- "$1"))
}

_cbt() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="status bitmap epoch version help"
	COMPREPLY=()

	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		return
	fi
	case ${COMP_WORDS[1]} in
	status)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	bitmap)
		case $prev in
		--epoch|--range) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--epoch --range --extents --json --summary --blocks --help" -- "$cur"))
		elif [[ $COMP_CWORD -eq 2 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	epoch)
		if [[ $COMP_CWORD -eq 2 ]]; then
			COMPREPLY=($(compgen -W "close commit abort --help" -- "$cur"))
		elif [[ $COMP_CWORD -eq 3 ]]; then
			_cbt_devices "$cur"
		fi
		;;
	help)
		[[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		;;
	esac
}
complete -F _cbt cbt
