
use builtin;
use str;

set edit:completion:arg-completer[vcluster] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'vcluster'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'vcluster'= {
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
            cand connect 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it'
            cand disconnect 'Switch back to the context that was current before `connect`, and stop its port-forward'
            cand port-forward 'Forward local ports to a service or pod inside a virtual cluster, or to its API server'
            cand delete 'Delete a virtual cluster and exactly what belongs to it'
            cand rm 'Delete a virtual cluster and exactly what belongs to it'
            cand list 'List the virtual clusters in the namespace (-n) or in all namespaces'
            cand ls 'List the virtual clusters in the namespace (-n) or in all namespaces'
            cand pause 'Pause a virtual cluster: scale it down to nothing, keeping its data'
            cand sleep 'Pause a virtual cluster: scale it down to nothing, keeping its data'
            cand resume 'Resume a paused virtual cluster and wait until it works'
            cand wakeup 'Resume a paused virtual cluster and wait until it works'
            cand render 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)'
            cand version 'Print the CLI version and the chart version it installs'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcluster;create'= {
            cand -f 'Values file (repeatable, later files win; `-` reads stdin)'
            cand --values 'Values file (repeatable, later files win; `-` reads stdin)'
            cand --set 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)'
            cand --set-string 'Set values, keeping every value a string'
            cand --set-json 'Set values from JSON (a.b={"x":1})'
            cand --kubernetes-version 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)'
            cand --connect 'Connect to the virtual cluster afterwards (`--connect=false` to skip; default: at a terminal)'
            cand --kube-config-context-name 'Name of the kube context `connect` creates'
            cand --timeout 'Bound for the whole command, its wait for the virtual cluster (and a terminating namespace) included: 90s, 10m, 1h'
            cand --history-max 'Release revisions to keep (0: all)'
            cand --chart-version 'chart-version'
            cand --chart-repo 'chart-repo'
            cand --chart-name 'chart-name'
            cand --local-chart-dir 'local-chart-dir'
            cand --distro 'distro'
            cand --expose-local 'expose-local'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --expose 'Expose the virtual cluster''s API with a LoadBalancer Service (service.type: LoadBalancer)'
            cand --isolate 'Run in isolated mode (isolation.enabled: true)'
            cand --upgrade 'Upgrade the virtual cluster if it exists already'
            cand --reuse-values 'On upgrade, start from the values of the deployed release (the image and service CIDR recorded then included) and lay this run''s values over them'
            cand --wait 'Wait until the virtual cluster works (default)'
            cand --no-wait 'Return once everything is applied'
            cand --rollback-on-failure 'On failure, remove a failed install, or roll a failed upgrade back to the last good revision'
            cand --atomic 'On failure, remove a failed install, or roll a failed upgrade back to the last good revision'
            cand --take-ownership 'Adopt existing objects that belong to another release or to none'
            cand --force-conflicts 'Take fields over from field managers outside this release when they conflict'
            cand --recreate-statefulset 'When the upgrade changes StatefulSet fields Kubernetes does not allow to change (storage.*): delete the StatefulSet, its pods and claims kept, and create it again'
            cand --force-unlock 'Clear the lock a killed create/upgrade left (a pending revision), after showing who held it'
            cand --dry-run 'Show what would change (server-side dry run and a diff per object); change nothing'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;connect'= {
            cand --kube-config-context-name 'Name of the kube context to add (default: vcluster_<name>_<namespace>_<host context>)'
            cand --update-current 'Switch the current context to the virtual cluster (`--update-current=false` only adds it)'
            cand --kube-config 'Write the virtual cluster''s kubeconfig to FILE (mode 0600, atomically) instead of merging it into yours (`--kubeconfig` selects the host cluster''s)'
            cand --server 'Reach the virtual cluster''s API at URL instead of a port-forward (checked before anything is written)'
            cand --local-port 'Local port of the port-forward (default: a free one)'
            cand --address 'Local addresses of the port-forward (comma-separated IPs, or localhost)'
            cand --service-account 'Authenticate with a token of this service account of the virtual cluster ([NAMESPACE/]NAME; namespace kube-system by default) instead of the admin certificate'
            cand --cluster-role 'With --service-account: create the account when missing and bind it to this cluster role'
            cand --token-expiration 'With --service-account: the token''s lifetime in seconds (0: ten years)'
            cand --timeout 'How long to wait for the virtual cluster to work (resuming it, pod Ready, credentials)'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --print 'Print a kubeconfig for the virtual cluster on stdout (and nothing else); your kubeconfig is left alone'
            cand --foreground 'Keep the port-forward in this process until Ctrl-C, which also switches back and removes the added context'
            cand --insecure 'Do not verify the virtual cluster''s serving certificate'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;disconnect'= {
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand --keep-context 'Keep the vcluster''s context, cluster and user entries (only switch back and stop the port-forward)'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;port-forward'= {
            cand -N 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)'
            cand --virtual-namespace 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)'
            cand --namespace-in-vcluster 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)'
            cand --address 'Local addresses to listen on (comma-separated IPs, or localhost for 127.0.0.1 and ::1)'
            cand --timeout 'How long to wait for a Ready pod before the first line is printed'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;delete'= {
            cand --wait 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)'
            cand --timeout 'How long to wait: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --delete-namespace 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)'
            cand --keep-pvc 'Keep the PersistentVolumeClaims (the virtual cluster''s data), and so the namespace'
            cand --ignore-not-found 'Exit 0 when the virtual cluster does not exist'
            cand --no-wait 'Return without waiting'
            cand -y 'Delete without asking (required when stdin is not a terminal)'
            cand --yes 'Delete without asking (required when stdin is not a terminal)'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;rm'= {
            cand --wait 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)'
            cand --timeout 'How long to wait: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --delete-namespace 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)'
            cand --keep-pvc 'Keep the PersistentVolumeClaims (the virtual cluster''s data), and so the namespace'
            cand --ignore-not-found 'Exit 0 when the virtual cluster does not exist'
            cand --no-wait 'Return without waiting'
            cand -y 'Delete without asking (required when stdin is not a terminal)'
            cand --yes 'Delete without asking (required when stdin is not a terminal)'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;list'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;ls'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;pause'= {
            cand --timeout 'How long to wait for the pods to stop: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;sleep'= {
            cand --timeout 'How long to wait for the pods to stop: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;resume'= {
            cand --wait 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)'
            cand --timeout 'How long to wait: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --no-wait 'Return without waiting'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;wakeup'= {
            cand --wait 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)'
            cand --timeout 'How long to wait: 90s, 10m, 1h'
            cand -o 'Print the result as one JSON object on stdout'
            cand --output 'Print the result as one JSON object on stdout'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --request-timeout 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout'
            cand --no-wait 'Return without waiting'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;render'= {
            cand -f 'Values file (repeatable, later files win; `-` reads stdin)'
            cand --values 'Values file (repeatable, later files win; `-` reads stdin)'
            cand --set 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)'
            cand --set-string 'Set values, keeping every value a string'
            cand --set-json 'Set values from JSON (a.b={"x":1})'
            cand --kubernetes-version 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)'
            cand -o 'Output format: a YAML stream, or one JSON `List`'
            cand --output 'Output format: a YAML stream, or one JSON `List`'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand --expose 'Expose the virtual cluster''s API with a LoadBalancer Service (service.type: LoadBalancer)'
            cand --isolate 'Run in isolated mode (isolation.enabled: true)'
            cand --show-values 'Print the merged values instead of the manifests'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;version'= {
            cand -o 'Print the versions as JSON or YAML (default: one line of text)'
            cand --output 'Print the versions as JSON or YAML (default: one line of text)'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;completion'= {
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings, the whole chain of an error)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;help'= {
            cand create 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
            cand connect 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it'
            cand disconnect 'Switch back to the context that was current before `connect`, and stop its port-forward'
            cand port-forward 'Forward local ports to a service or pod inside a virtual cluster, or to its API server'
            cand delete 'Delete a virtual cluster and exactly what belongs to it'
            cand list 'List the virtual clusters in the namespace (-n) or in all namespaces'
            cand pause 'Pause a virtual cluster: scale it down to nothing, keeping its data'
            cand resume 'Resume a paused virtual cluster and wait until it works'
            cand render 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)'
            cand version 'Print the CLI version and the chart version it installs'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcluster;help;create'= {
        }
        &'vcluster;help;connect'= {
        }
        &'vcluster;help;disconnect'= {
        }
        &'vcluster;help;port-forward'= {
        }
        &'vcluster;help;delete'= {
        }
        &'vcluster;help;list'= {
        }
        &'vcluster;help;pause'= {
        }
        &'vcluster;help;resume'= {
        }
        &'vcluster;help;render'= {
        }
        &'vcluster;help;version'= {
        }
        &'vcluster;help;completion'= {
        }
        &'vcluster;help;help'= {
        }
    ]
    $completions[$command]
}
