# fish completion for oxsync. The option names are read from `oxsync
# --help` (and `oxsync --daemon --help`), which the option parser's table
# generates, so they follow the binary installed.

function __oxsync_options
    set -l header $argv[1]
    set -e argv[1]
    $argv --help 2>/dev/null \
        | awk -v head="$header" '$0 == head {on=1; next} on && /^$/ {exit} on {print substr($0, 1, 25); if (match($0, /\(aka --[a-z-]+\)/)) print substr($0, RSTART + 5, RLENGTH - 6)}' \
        | grep -oE -- '--?[[:alnum:]@][[:alnum:]-]*=?' \
        | grep -vx -- '--no-OPTION'
end

function __oxsync_register -a condition header
    for opt in (__oxsync_options $header oxsync $argv[3..-1])
        set -l name (string replace -r '=$' '' -- $opt)
        set -l value
        string match -q -- '*=' $opt; and set value --require-parameter
        if string match -q -- '--*' $name
            complete -c oxsync -n $condition -l (string sub -s 3 -- $name) $value
        else
            complete -c oxsync -n $condition -s (string sub -s 2 -- $name) $value
        end
    end
end

__oxsync_register 'not __fish_seen_argument -l daemon' 'Options'
__oxsync_register '__fish_seen_argument -l daemon' 'Usage: oxsync --daemon [OPTION]...' --daemon
