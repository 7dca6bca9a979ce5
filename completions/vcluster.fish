# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vcluster_global_optspecs
    string join \n q/quiet debug h/help V/version
end

function __fish_vcluster_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vcluster_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vcluster_using_subcommand
    set -l cmd (__fish_vcluster_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vcluster -n "__fish_vcluster_needs_command" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_needs_command" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_needs_command" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_needs_command" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "create" -d 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "connect" -d 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "disconnect" -d 'Switch back to the context that was current before `connect`, and stop its port-forward'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "port-forward" -d 'Forward local ports to a service or pod inside a virtual cluster, or to its API server'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "delete" -d 'Delete a virtual cluster and exactly what belongs to it'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "rm" -d 'Delete a virtual cluster and exactly what belongs to it'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "list" -d 'List the virtual clusters in the namespace (-n) or in all namespaces'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "ls" -d 'List the virtual clusters in the namespace (-n) or in all namespaces'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "pause" -d 'Pause a virtual cluster: scale it down to nothing, keeping its data'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "sleep" -d 'Pause a virtual cluster: scale it down to nothing, keeping its data'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "resume" -d 'Resume a paused virtual cluster and wait until it works'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "wakeup" -d 'Resume a paused virtual cluster and wait until it works'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "render" -d 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "version" -d 'Print the CLI version and the chart version it installs'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c vcluster -n "__fish_vcluster_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s f -l values -d 'Values file (repeatable, later files win; `-` reads stdin)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l set -d 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l set-string -d 'Set values, keeping every value a string' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l set-json -d 'Set values from JSON (a.b={"x":1})' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l kubernetes-version -d 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l connect -d 'Connect to the virtual cluster afterwards (`--connect=false` to skip; default: at a terminal)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l kube-config-context-name -d 'Name of the kube context `connect` creates' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l timeout -d 'Bound for the whole command, its wait for the virtual cluster (and a terminating namespace) included: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l history-max -d 'Release revisions to keep (0: all)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l chart-version -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l chart-repo -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l chart-name -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l local-chart-dir -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l distro -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l expose-local -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l expose -d 'Expose the virtual cluster\'s API with a LoadBalancer Service (service.type: LoadBalancer)'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l isolate -d 'Run in isolated mode (isolation.enabled: true)'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l upgrade -d 'Upgrade the virtual cluster if it exists already'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l reuse-values -d 'On upgrade, start from the values of the deployed release (the image and service CIDR recorded then included) and lay this run\'s values over them'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l wait -d 'Wait until the virtual cluster works (default)'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l no-wait -d 'Return once everything is applied'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l rollback-on-failure -l atomic -d 'On failure, remove a failed install, or roll a failed upgrade back to the last good revision'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l take-ownership -d 'Adopt existing objects that belong to another release or to none'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l force-conflicts -d 'Take fields over from field managers outside this release when they conflict'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l recreate-statefulset -d 'When the upgrade changes StatefulSet fields Kubernetes does not allow to change (storage.*): delete the StatefulSet, its pods and claims kept, and create it again'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l force-unlock -d 'Clear the lock a killed create/upgrade left (a pending revision), after showing who held it'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l dry-run -d 'Show what would change (server-side dry run and a diff per object); change nothing'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand create" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l kube-config-context-name -d 'Name of the kube context to add (default: vcluster_<name>_<namespace>_<host context>)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l update-current -d 'Switch the current context to the virtual cluster (`--update-current=false` only adds it)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l kube-config -d 'Write the virtual cluster\'s kubeconfig to FILE (mode 0600, atomically) instead of merging it into yours (`--kubeconfig` selects the host cluster\'s)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l server -d 'Reach the virtual cluster\'s API at URL instead of a port-forward (checked before anything is written)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l local-port -d 'Local port of the port-forward (default: a free one)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l address -d 'Local addresses of the port-forward (comma-separated IPs, or localhost)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l service-account -d 'Authenticate with a token of this service account of the virtual cluster ([NAMESPACE/]NAME; namespace kube-system by default) instead of the admin certificate' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l cluster-role -d 'With --service-account: create the account when missing and bind it to this cluster role' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l token-expiration -d 'With --service-account: the token\'s lifetime in seconds (0: ten years)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l timeout -d 'How long to wait for the virtual cluster to work (resuming it, pod Ready, credentials)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l print -d 'Print a kubeconfig for the virtual cluster on stdout (and nothing else); your kubeconfig is left alone'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l foreground -d 'Keep the port-forward in this process until Ctrl-C, which also switches back and removes the added context'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l insecure -d 'Do not verify the virtual cluster\'s serving certificate'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand connect" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -l keep-context -d 'Keep the vcluster\'s context, cluster and user entries (only switch back and stop the port-forward)'
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand disconnect" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -s N -l virtual-namespace -l namespace-in-vcluster -d 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster\'s host namespace, as for every command)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l address -d 'Local addresses to listen on (comma-separated IPs, or localhost for 127.0.0.1 and ::1)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l timeout -d 'How long to wait for a Ready pod before the first line is printed' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand port-forward" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l wait -d 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l timeout -d 'How long to wait: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l delete-namespace -d 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l keep-pvc -d 'Keep the PersistentVolumeClaims (the virtual cluster\'s data), and so the namespace'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l ignore-not-found -d 'Exit 0 when the virtual cluster does not exist'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l no-wait -d 'Return without waiting'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s y -l yes -d 'Delete without asking (required when stdin is not a terminal)'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand delete" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l wait -d 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l timeout -d 'How long to wait: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l delete-namespace -d 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l keep-pvc -d 'Keep the PersistentVolumeClaims (the virtual cluster\'s data), and so the namespace'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l ignore-not-found -d 'Exit 0 when the virtual cluster does not exist'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l no-wait -d 'Return without waiting'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s y -l yes -d 'Delete without asking (required when stdin is not a terminal)'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand rm" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand list" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand ls" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -l timeout -d 'How long to wait for the pods to stop: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand pause" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -l timeout -d 'How long to wait for the pods to stop: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand sleep" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l wait -d 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l timeout -d 'How long to wait: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l no-wait -d 'Return without waiting'
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand resume" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l wait -d 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)' -r -f -a "true\t''
false\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l timeout -d 'How long to wait: 90s, 10m, 1h' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -s o -l output -d 'Print the result as one JSON object on stdout' -r -f -a "json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l request-timeout -d 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl\'s --request-timeout' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l no-wait -d 'Return without waiting'
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand wakeup" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s f -l values -d 'Values file (repeatable, later files win; `-` reads stdin)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l set -d 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l set-string -d 'Set values, keeping every value a string' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l set-json -d 'Set values from JSON (a.b={"x":1})' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l kubernetes-version -d 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s o -l output -d 'Output format: a YAML stream, or one JSON `List`' -r -f -a "yaml\t''
json\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l kubeconfig -d 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l context -d 'Kube context of the host cluster (default: the current context)' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s n -l namespace -d 'Host namespace of the virtual cluster' -r
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l expose -d 'Expose the virtual cluster\'s API with a LoadBalancer Service (service.type: LoadBalancer)'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l isolate -d 'Run in isolated mode (isolation.enabled: true)'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l show-values -d 'Print the merged values instead of the manifests'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand render" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand version" -s o -l output -d 'Print the versions as JSON or YAML (default: one line of text)' -r -f -a "json\t''
yaml\t''"
complete -c vcluster -n "__fish_vcluster_using_subcommand version" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand version" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand version" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand version" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand completion" -s q -l quiet -d 'Print only warnings, errors and data'
complete -c vcluster -n "__fish_vcluster_using_subcommand completion" -l debug -d 'Print debug information (requests, timings, the whole chain of an error)'
complete -c vcluster -n "__fish_vcluster_using_subcommand completion" -s h -l help -d 'Print help'
complete -c vcluster -n "__fish_vcluster_using_subcommand completion" -s V -l version -d 'Print version'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "create" -d 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "connect" -d 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "disconnect" -d 'Switch back to the context that was current before `connect`, and stop its port-forward'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "port-forward" -d 'Forward local ports to a service or pod inside a virtual cluster, or to its API server'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "delete" -d 'Delete a virtual cluster and exactly what belongs to it'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "list" -d 'List the virtual clusters in the namespace (-n) or in all namespaces'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "pause" -d 'Pause a virtual cluster: scale it down to nothing, keeping its data'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "resume" -d 'Resume a paused virtual cluster and wait until it works'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "render" -d 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "version" -d 'Print the CLI version and the chart version it installs'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "completion" -d 'Print a shell completion script'
complete -c vcluster -n "__fish_vcluster_using_subcommand help; and not __fish_seen_subcommand_from create connect disconnect port-forward delete list pause resume render version completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
