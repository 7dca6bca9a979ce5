
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
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand -o 'Output format for data on stdout'
            cand --output 'Output format for data on stdout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings)'
            cand -y 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand --yes 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
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
            cand --timeout 'How long to wait for the virtual cluster (and a terminating namespace): 90s, 10m, 1h'
            cand --history-max 'Release revisions to keep (0: all)'
            cand --chart-version 'chart-version'
            cand --chart-repo 'chart-repo'
            cand --chart-name 'chart-name'
            cand --local-chart-dir 'local-chart-dir'
            cand --distro 'distro'
            cand --expose-local 'expose-local'
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand -o 'Output format for data on stdout'
            cand --output 'Output format for data on stdout'
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
            cand --force-unlock 'Clear the lock a killed create/upgrade left (a pending revision), after showing who held it'
            cand --dry-run 'Show what would change (server-side dry run and a diff per object); change nothing'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings)'
            cand -y 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand --yes 'Answer yes to every confirmation (required when stdin is not a terminal)'
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
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand -o 'Output format for data on stdout'
            cand --output 'Output format for data on stdout'
            cand --expose 'Expose the virtual cluster''s API with a LoadBalancer Service (service.type: LoadBalancer)'
            cand --isolate 'Run in isolated mode (isolation.enabled: true)'
            cand --show-values 'Print the merged values instead of the manifests'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings)'
            cand -y 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand --yes 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;version'= {
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand -o 'Output format for data on stdout'
            cand --output 'Output format for data on stdout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings)'
            cand -y 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand --yes 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;completion'= {
            cand --kubeconfig 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'Kube context of the host cluster (default: the current context)'
            cand -n 'Host namespace of the virtual cluster'
            cand --namespace 'Host namespace of the virtual cluster'
            cand -o 'Output format for data on stdout'
            cand --output 'Output format for data on stdout'
            cand -q 'Print only warnings, errors and data'
            cand --quiet 'Print only warnings, errors and data'
            cand --debug 'Print debug information (requests, timings)'
            cand -y 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand --yes 'Answer yes to every confirmation (required when stdin is not a terminal)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'vcluster;help'= {
            cand create 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)'
            cand render 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)'
            cand version 'Print the CLI version and the chart version it installs'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'vcluster;help;create'= {
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
