
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'vcluster' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'vcluster'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'vcluster' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it')
            [CompletionResult]::new('disconnect', 'disconnect', [CompletionResultType]::ParameterValue, 'Switch back to the context that was current before `connect`, and stop its port-forward')
            [CompletionResult]::new('port-forward', 'port-forward', [CompletionResultType]::ParameterValue, 'Forward local ports to a service or pod inside a virtual cluster, or to its API server')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a virtual cluster and exactly what belongs to it')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a virtual cluster and exactly what belongs to it')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the virtual clusters in the namespace (-n) or in all namespaces')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the virtual clusters in the namespace (-n) or in all namespaces')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a virtual cluster: scale it down to nothing, keeping its data')
            [CompletionResult]::new('sleep', 'sleep', [CompletionResultType]::ParameterValue, 'Pause a virtual cluster: scale it down to nothing, keeping its data')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume a paused virtual cluster and wait until it works')
            [CompletionResult]::new('wakeup', 'wakeup', [CompletionResultType]::ParameterValue, 'Resume a paused virtual cluster and wait until it works')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the CLI version and the chart version it installs')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcluster;create' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Values file (repeatable, later files win; `-` reads stdin)')
            [CompletionResult]::new('--values', '--values', [CompletionResultType]::ParameterName, 'Values file (repeatable, later files win; `-` reads stdin)')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)')
            [CompletionResult]::new('--set-string', '--set-string', [CompletionResultType]::ParameterName, 'Set values, keeping every value a string')
            [CompletionResult]::new('--set-json', '--set-json', [CompletionResultType]::ParameterName, 'Set values from JSON (a.b={"x":1})')
            [CompletionResult]::new('--kubernetes-version', '--kubernetes-version', [CompletionResultType]::ParameterName, 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Connect to the virtual cluster afterwards (`--connect=false` to skip; default: at a terminal)')
            [CompletionResult]::new('--kube-config-context-name', '--kube-config-context-name', [CompletionResultType]::ParameterName, 'Name of the kube context `connect` creates')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Bound for the whole command, its wait for the virtual cluster (and a terminating namespace) included: 90s, 10m, 1h')
            [CompletionResult]::new('--history-max', '--history-max', [CompletionResultType]::ParameterName, 'Release revisions to keep (0: all)')
            [CompletionResult]::new('--chart-version', '--chart-version', [CompletionResultType]::ParameterName, 'chart-version')
            [CompletionResult]::new('--chart-repo', '--chart-repo', [CompletionResultType]::ParameterName, 'chart-repo')
            [CompletionResult]::new('--chart-name', '--chart-name', [CompletionResultType]::ParameterName, 'chart-name')
            [CompletionResult]::new('--local-chart-dir', '--local-chart-dir', [CompletionResultType]::ParameterName, 'local-chart-dir')
            [CompletionResult]::new('--distro', '--distro', [CompletionResultType]::ParameterName, 'distro')
            [CompletionResult]::new('--expose-local', '--expose-local', [CompletionResultType]::ParameterName, 'expose-local')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--expose', '--expose', [CompletionResultType]::ParameterName, 'Expose the virtual cluster''s API with a LoadBalancer Service (service.type: LoadBalancer)')
            [CompletionResult]::new('--isolate', '--isolate', [CompletionResultType]::ParameterName, 'Run in isolated mode (isolation.enabled: true)')
            [CompletionResult]::new('--upgrade', '--upgrade', [CompletionResultType]::ParameterName, 'Upgrade the virtual cluster if it exists already')
            [CompletionResult]::new('--reuse-values', '--reuse-values', [CompletionResultType]::ParameterName, 'On upgrade, start from the values of the deployed release (the image and service CIDR recorded then included) and lay this run''s values over them')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until the virtual cluster works (default)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once everything is applied')
            [CompletionResult]::new('--rollback-on-failure', '--rollback-on-failure', [CompletionResultType]::ParameterName, 'On failure, remove a failed install, or roll a failed upgrade back to the last good revision')
            [CompletionResult]::new('--atomic', '--atomic', [CompletionResultType]::ParameterName, 'On failure, remove a failed install, or roll a failed upgrade back to the last good revision')
            [CompletionResult]::new('--take-ownership', '--take-ownership', [CompletionResultType]::ParameterName, 'Adopt existing objects that belong to another release or to none')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take fields over from field managers outside this release when they conflict')
            [CompletionResult]::new('--recreate-statefulset', '--recreate-statefulset', [CompletionResultType]::ParameterName, 'When the upgrade changes StatefulSet fields Kubernetes does not allow to change (storage.*): delete the StatefulSet, its pods and claims kept, and create it again')
            [CompletionResult]::new('--force-unlock', '--force-unlock', [CompletionResultType]::ParameterName, 'Clear the lock a killed create/upgrade left (a pending revision), after showing who held it')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change (server-side dry run and a diff per object); change nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;connect' {
            [CompletionResult]::new('--kube-config-context-name', '--kube-config-context-name', [CompletionResultType]::ParameterName, 'Name of the kube context to add (default: vcluster_<name>_<namespace>_<host context>)')
            [CompletionResult]::new('--update-current', '--update-current', [CompletionResultType]::ParameterName, 'Switch the current context to the virtual cluster (`--update-current=false` only adds it)')
            [CompletionResult]::new('--kube-config', '--kube-config', [CompletionResultType]::ParameterName, 'Write the virtual cluster''s kubeconfig to FILE (mode 0600, atomically) instead of merging it into yours (`--kubeconfig` selects the host cluster''s)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Reach the virtual cluster''s API at URL instead of a port-forward (checked before anything is written)')
            [CompletionResult]::new('--local-port', '--local-port', [CompletionResultType]::ParameterName, 'Local port of the port-forward (default: a free one)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Local addresses of the port-forward (comma-separated IPs, or localhost)')
            [CompletionResult]::new('--service-account', '--service-account', [CompletionResultType]::ParameterName, 'Authenticate with a token of this service account of the virtual cluster ([NAMESPACE/]NAME; namespace kube-system by default) instead of the admin certificate')
            [CompletionResult]::new('--cluster-role', '--cluster-role', [CompletionResultType]::ParameterName, 'With --service-account: create the account when missing and bind it to this cluster role')
            [CompletionResult]::new('--token-expiration', '--token-expiration', [CompletionResultType]::ParameterName, 'With --service-account: the token''s lifetime in seconds (0: ten years)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the virtual cluster to work (resuming it, pod Ready, credentials)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print a kubeconfig for the virtual cluster on stdout (and nothing else); your kubeconfig is left alone')
            [CompletionResult]::new('--foreground', '--foreground', [CompletionResultType]::ParameterName, 'Keep the port-forward in this process until Ctrl-C, which also switches back and removes the added context')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the virtual cluster''s serving certificate')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;disconnect' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('--keep-context', '--keep-context', [CompletionResultType]::ParameterName, 'Keep the vcluster''s context, cluster and user entries (only switch back and stop the port-forward)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;port-forward' {
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)')
            [CompletionResult]::new('--virtual-namespace', '--virtual-namespace', [CompletionResultType]::ParameterName, 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)')
            [CompletionResult]::new('--namespace-in-vcluster', '--namespace-in-vcluster', [CompletionResultType]::ParameterName, 'Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster''s host namespace, as for every command)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Local addresses to listen on (comma-separated IPs, or localhost for 127.0.0.1 and ::1)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for a Ready pod before the first line is printed')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;delete' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--delete-namespace', '--delete-namespace', [CompletionResultType]::ParameterName, 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)')
            [CompletionResult]::new('--keep-pvc', '--keep-pvc', [CompletionResultType]::ParameterName, 'Keep the PersistentVolumeClaims (the virtual cluster''s data), and so the namespace')
            [CompletionResult]::new('--ignore-not-found', '--ignore-not-found', [CompletionResultType]::ParameterName, 'Exit 0 when the virtual cluster does not exist')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return without waiting')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;rm' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--delete-namespace', '--delete-namespace', [CompletionResultType]::ParameterName, 'Delete the host namespace too, unless another vcluster lives there (default: only when vcluster created it)')
            [CompletionResult]::new('--keep-pvc', '--keep-pvc', [CompletionResultType]::ParameterName, 'Keep the PersistentVolumeClaims (the virtual cluster''s data), and so the namespace')
            [CompletionResult]::new('--ignore-not-found', '--ignore-not-found', [CompletionResultType]::ParameterName, 'Exit 0 when the virtual cluster does not exist')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return without waiting')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Delete without asking (required when stdin is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;pause' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the pods to stop: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;sleep' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the pods to stop: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;resume' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return without waiting')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;wakeup' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait: 90s, 10m, 1h')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as one JSON object on stdout')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl''s --request-timeout')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return without waiting')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;render' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Values file (repeatable, later files win; `-` reads stdin)')
            [CompletionResult]::new('--values', '--values', [CompletionResultType]::ParameterName, 'Values file (repeatable, later files win; `-` reads stdin)')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)')
            [CompletionResult]::new('--set-string', '--set-string', [CompletionResultType]::ParameterName, 'Set values, keeping every value a string')
            [CompletionResult]::new('--set-json', '--set-json', [CompletionResultType]::ParameterName, 'Set values from JSON (a.b={"x":1})')
            [CompletionResult]::new('--kubernetes-version', '--kubernetes-version', [CompletionResultType]::ParameterName, 'Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a YAML stream, or one JSON `List`')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a YAML stream, or one JSON `List`')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kube context of the host cluster (default: the current context)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Host namespace of the virtual cluster')
            [CompletionResult]::new('--expose', '--expose', [CompletionResultType]::ParameterName, 'Expose the virtual cluster''s API with a LoadBalancer Service (service.type: LoadBalancer)')
            [CompletionResult]::new('--isolate', '--isolate', [CompletionResultType]::ParameterName, 'Run in isolated mode (isolation.enabled: true)')
            [CompletionResult]::new('--show-values', '--show-values', [CompletionResultType]::ParameterName, 'Print the merged values instead of the manifests')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;version' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the versions as JSON or YAML (default: one line of text)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the versions as JSON or YAML (default: one line of text)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;completion' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only warnings, errors and data')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print debug information (requests, timings, the whole chain of an error)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'vcluster;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background), print a kubeconfig, or run one command against it')
            [CompletionResult]::new('disconnect', 'disconnect', [CompletionResultType]::ParameterValue, 'Switch back to the context that was current before `connect`, and stop its port-forward')
            [CompletionResult]::new('port-forward', 'port-forward', [CompletionResultType]::ParameterValue, 'Forward local ports to a service or pod inside a virtual cluster, or to its API server')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a virtual cluster and exactly what belongs to it')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the virtual clusters in the namespace (-n) or in all namespaces')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a virtual cluster: scale it down to nothing, keeping its data')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume a paused virtual cluster and wait until it works')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Render the manifests of a virtual cluster without touching a cluster (like `helm template`)')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the CLI version and the chart version it installs')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'vcluster;help;create' {
            break
        }
        'vcluster;help;connect' {
            break
        }
        'vcluster;help;disconnect' {
            break
        }
        'vcluster;help;port-forward' {
            break
        }
        'vcluster;help;delete' {
            break
        }
        'vcluster;help;list' {
            break
        }
        'vcluster;help;pause' {
            break
        }
        'vcluster;help;resume' {
            break
        }
        'vcluster;help;render' {
            break
        }
        'vcluster;help;version' {
            break
        }
        'vcluster;help;completion' {
            break
        }
        'vcluster;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
