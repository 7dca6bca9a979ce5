//! Reading the kubeconfig, reaching the host cluster and finding a vcluster on it, as every
//! command that talks to a cluster does.

use k8s_openapi::api::apps::v1::StatefulSet;

use super::Context;
use crate::cluster::{Connection, Host};
use crate::error::{Advice, Hinted};
use crate::find::{self, Scope, Vcluster};
use crate::kubeconfig::{self, Loaded, Sources};
use crate::lifecycle::LifecycleError;
use crate::values;

const NAMESPACE_HINT: &str = "pass -n NAMESPACE to choose the namespace without reading the kubeconfig";

/// The kubeconfig files of this invocation, read as client-go's loading rules read them
/// (`--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`); an explicit `--kubeconfig` must
/// exist.
pub(crate) fn load_kubeconfig(ctx: &Context) -> anyhow::Result<Loaded> {
    let sources = Sources::from_env(ctx.global.kubeconfig.as_deref());
    let loaded = kubeconfig::load(&sources).map_err(|e| anyhow::Error::new(Hinted::from(e).hint(NAMESPACE_HINT)))?;
    if let (Some(path), Some(file)) = (sources.explicit(), loaded.files().first())
        && !file.exists
    {
        return Err(anyhow::Error::new(
            Hinted::new(format!("cannot read kubeconfig {}: no such file", path.display())).hint(NAMESPACE_HINT),
        ));
    }
    Ok(loaded)
}

/// `--context` names a context of the kubeconfig (checked where nothing else would name it).
pub(crate) fn check_context(ctx: &Context, kubeconfig: &Loaded) -> anyhow::Result<()> {
    match ctx.global.context.as_deref() {
        Some(context) if kubeconfig.entry(kubeconfig::Kind::Context, context).is_none() => Err(anyhow::Error::new(
            Hinted::new(format!("context {context:?} not found in the kubeconfig")).hint(NAMESPACE_HINT),
        )),
        _ => Ok(()),
    }
}

/// The host namespace of a virtual cluster, as `render` and `create` choose it: `-n`, else the
/// kube context's namespace when it is set and not `default`, else `vcluster-<NAME>`; checked to
/// be one the API server accepts.
pub(crate) fn namespace_for(ctx: &Context, context_namespace: Option<&str>, name: &str) -> anyhow::Result<String> {
    let namespace = resolve_namespace(ctx.global.namespace.as_deref(), context_namespace, name);
    match values::check_namespace(&namespace) {
        Some(problem) => anyhow::bail!("invalid namespace: {}", problem.message),
        None => Ok(namespace),
    }
}

fn resolve_namespace(flag: Option<&str>, context_namespace: Option<&str>, name: &str) -> String {
    match (flag, context_namespace) {
        (Some(ns), _) => ns.to_string(),
        (None, Some(ns)) if !ns.is_empty() && ns != "default" => ns.to_string(),
        _ => format!("vcluster-{name}"),
    }
}

/// Everything before the first request of `delete`, `pause` and `resume`: the name checked (it
/// goes into label selectors), the kubeconfig read.
pub(crate) fn start(name: &str, ctx: &Context) -> anyhow::Result<Loaded> {
    if let Some(problem) = find::name_problem(name) {
        anyhow::bail!("invalid vcluster name: {problem}");
    }
    load_kubeconfig(ctx)
}

/// `-n`, else every namespace.
pub(crate) fn scope(ctx: &Context) -> Scope {
    Scope::from_flag(ctx.global.namespace.as_deref())
}

/// The host cluster: `--context`, else the current context — unless that is a vcluster's context,
/// whose host context is meant then ([`find::connect_host`]); `namespace`, else `-n`.
pub(crate) async fn host_cluster(
    ctx: &Context,
    loaded: &Loaded,
    namespace: Option<&str>,
) -> anyhow::Result<Connection> {
    let namespace = namespace.or(ctx.global.namespace.as_deref());
    find::connect_host(loaded, ctx.global.context.as_deref(), namespace, ctx.global.request_timeout, &ctx.printer)
        .await
        .map_err(|e| anyhow::Error::new(Hinted::from(e)))
}

/// [`host_cluster`], for the requests of `delete`, `pause`, `resume` and `list`.
pub(crate) async fn host(ctx: &Context, kubeconfig: &Loaded) -> anyhow::Result<Host> {
    Ok(Host::new(host_cluster(ctx, kubeconfig, None).await?))
}

/// The host cluster and the vcluster `name` on it (in `-n`, else in any namespace).
pub(crate) async fn target(ctx: &Context, kubeconfig: &Loaded, name: &str) -> anyhow::Result<(Host, Vcluster)> {
    let host = host(ctx, kubeconfig).await?;
    let vcluster = find::find(&host.connection, name, &scope(ctx), &ctx.printer)
        .await
        .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
    Ok((host, vcluster))
}

/// The vcluster `name` (in `namespace`, else in `-n`, else in any namespace) and its StatefulSet,
/// as `delete` and `list` find it.
pub(crate) async fn locate(
    ctx: &Context,
    host: &Connection,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<(Vcluster, StatefulSet)> {
    let scope = Scope::from_flag(namespace.or(ctx.global.namespace.as_deref()));
    let vcluster =
        find::find(host, name, &scope, &ctx.printer).await.map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
    let Some(sts) = vcluster.statefulset.clone() else {
        let missing =
            LifecycleError::NoStatefulSet { name: vcluster.name.clone(), namespace: vcluster.namespace.clone() };
        return Err(missing.into_report(&vcluster.name, &vcluster.namespace));
    };
    Ok((vcluster, sts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_resolution_order() {
        assert_eq!(resolve_namespace(Some("team"), Some("ctx-ns"), "my-vc"), "team");
        assert_eq!(resolve_namespace(None, Some("ctx-ns"), "my-vc"), "ctx-ns");
        assert_eq!(resolve_namespace(None, Some("default"), "my-vc"), "vcluster-my-vc");
        assert_eq!(resolve_namespace(None, Some(""), "my-vc"), "vcluster-my-vc");
        assert_eq!(resolve_namespace(None, None, "my-vc"), "vcluster-my-vc");
    }
}
