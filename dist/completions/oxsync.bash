# bash completion for oxsync. The option names are read from `oxsync
# --help` (and `oxsync --daemon --help`), which the option parser's table
# generates, so they follow the binary installed.

# Prints one option a line ("--name", "--name=" when it takes a value,
# "-x") from the help of PROGRAM (ARGS...) under the line HEADER.
_oxsync_options() {
    local header=$1
    shift
    "$@" --help 2>/dev/null \
        | awk -v head="$header" '$0 == head {on=1; next} on && /^$/ {exit} on {print substr($0, 1, 25); if (match($0, /\(aka --[a-z-]+\)/)) print substr($0, RSTART + 5, RLENGTH - 6)}' \
        | grep -oE -- '--?[[:alnum:]@][[:alnum:]-]*=?' \
        | grep -vx -- '--no-OPTION'
}

_oxsync() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prog=${COMP_WORDS[0]}
    if [[ $cur != -* ]]; then
        return 1 # files, hosts: bash's default completion
    fi
    local opts
    if [[ " ${COMP_WORDS[*]} " == *" --daemon "* ]]; then
        opts=$(_oxsync_options "Usage: oxsync --daemon [OPTION]..." "$prog" --daemon)
    else
        opts=$(_oxsync_options "Options" "$prog")
    fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    if [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace
    fi
}

complete -o bashdefault -o default -F _oxsync oxsync
