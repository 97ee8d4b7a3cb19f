# bash completion for zipmedic (installed as share/bash-completion/completions/zipmedic)

_zipmedic() {
    local cur prev words cword
    _init_completion || return

    local commands="verify scan list repair restore cat fetch help"
    local globals="--json --report --junit --format --color -q --quiet -v --verbose -t --threads --key --key-file --password --password-file --name-charset --connections --cacert --s3-endpoint --s3-path-style --timeout --retries --help"
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -t | --threads | --key | --key-file | --password | --password-file | --name-charset | -o | --output | -C | --directory | --exclude | --include | --sample | --seed | --profile | --report | --junit | --format | --color | --connections | --cacert | --s3-endpoint | --timeout | --retries)
                ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    case $prev in
        -t | --threads)
            COMPREPLY=($(compgen -W "1 2 4 8 16" -- "$cur"))
            return ;;
        --key | --password | --s3-endpoint | --timeout | --retries)
            return ;;
        --connections)
            COMPREPLY=($(compgen -W "1 2 4 8 16" -- "$cur"))
            return ;;
        --profile)
            COMPREPLY=($(compgen -W "sysreptor" -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "text github" -- "$cur"))
            return ;;
        --color)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            return ;;
        --name-charset)
            COMPREPLY=($(compgen -W "CP437 CP850 CP852 CP866 CP932 CP936 CP949 CP950 KOI8-R" -- "$cur"))
            return ;;
        -C | --directory)
            _filedir -d
            return ;;
        --key-file | --password-file | -o | --output | --report | --junit | --cacert)
            _filedir
            return ;;
        --exclude | --include | --seed)
            return ;;
        --sample)
            COMPREPLY=($(compgen -W "1% 10% 50% 1GiB" -- "$cur"))
            return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local opts
    case $cmd in
        verify | t | test) opts="$globals --profile --strict --sha256 --include --exclude --sample --seed" ;;
        scan) opts="$globals --profile --sha256 --include --exclude" ;;
        list | l) opts="$globals --sha256" ;;
        repair) opts="$globals --profile -o --output --force --in-place --salvage-partial --encrypt" ;;
        restore) opts="$globals -C --directory --exclude --partial --force --preserve-permissions" ;;
        cat) opts="$globals --exclude --salvage" ;;
        fetch) opts="$globals -o --output --force --strict" ;;
        help)
            COMPREPLY=($(compgen -W "verify scan list repair restore cat fetch" -- "$cur"))
            return ;;
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    # Archives: ZIP files and encrypted SysReptor backups, and directories to descend into.
    _filedir '@(zip|ZIP|crypt)'
} &&
    complete -F _zipmedic zipmedic
