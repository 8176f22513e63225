//! `servicewatch`: the server and the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use servicewatch::config::ConfigArgs;
#[cfg(feature = "embedded")]
use servicewatch::{bench, sample};
use servicewatch::{evaluate, http, scan};

#[derive(Parser)]
#[command(name = "servicewatch", version, about = "Unusual daily transaction volumes per maintenance service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the browser app and the API.
    Serve(Box<ServeArgs>),
    /// Write realistic sample transactions as Parquet.
    #[cfg(feature = "embedded")]
    Sample(sample::Args),
    /// Score from the command line and print the flagged days (CSV or JSON).
    Scan(Box<scan::Args>),
    /// Measure every method on labelled synthetic data (precision, recall, F1, AP).
    Evaluate(evaluate::Args),
    /// Time the cold daily aggregation of a file on the embedded warehouse.
    #[cfg(feature = "embedded")]
    Bench(bench::Args),
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on [default: 127.0.0.1:8080, or 0.0.0.0 on the
    /// port a Databricks App is given in DATABRICKS_APP_PORT].
    #[arg(long, env = "SERVICEWATCH_BIND")]
    bind: Option<SocketAddr>,
    /// Serve under this path (for a portal), e.g. /tools/servicewatch.
    #[arg(long, env = "SERVICEWATCH_BASE_PATH", default_value = "")]
    base_path: String,
    /// The built browser app (trunk's dist folder).
    #[arg(long, env = "SERVICEWATCH_DIST", default_value = "dist")]
    dist: PathBuf,
}

/// Where to listen: the flag, else the port a Databricks App is given
/// (the platform's proxy reaches the app from outside its container), else
/// loopback.
fn bind_address(flag: Option<SocketAddr>, app_port: Option<&str>) -> anyhow::Result<SocketAddr> {
    match (flag, app_port) {
        (Some(addr), _) => Ok(addr),
        (None, Some(port)) => {
            let port: u16 =
                port.trim().parse().map_err(|_| anyhow::anyhow!("DATABRICKS_APP_PORT `{port}` is not a port"))?;
            Ok(SocketAddr::from(([0, 0, 0, 0], port)))
        }
        (None, None) => Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
    }
}

/// `/a/b/` and `a/b` become `/a/b`; `/` becomes "". Only path-safe characters.
fn normalize_base_path(p: &str) -> anyhow::Result<String> {
    let trimmed = p.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty() && seg != ".." && seg.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
    });
    anyhow::ensure!(ok, "--base-path `{p}`: use path segments of letters, digits, - _ . ~");
    Ok(format!("/{trimmed}"))
}

/// The caches free big buffers (bodies, baselines) as they evict them, and
/// glibc raises its mmap threshold after each such free: later big buffers
/// then land in the heap and fragment it, holding RSS well above
/// `cache_max_bytes` (38 MB over a 16 MB limit in `tests/memory.rs`, 14
/// with this). Setting the threshold (to glibc's own default, 128 KiB)
/// stops it moving, so big buffers stay mapped and go back when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: sets one malloc parameter, before any other thread runs.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> anyhow::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fixed_mmap_threshold();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SERVICEWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,datafusion=warn")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files or
        // a platform's log viewer.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    match cli.command {
        Command::Evaluate(args) => evaluate::run(&args),
        #[cfg(feature = "embedded")]
        Command::Sample(args) => {
            let bar = servicewatch::terminal::Bar::new("writing transactions");
            let rows = sample::write(&args, |done, total| bar.draw(done, total))?;
            bar.finish(&format!("{rows} rows"));
            eprintln!("wrote {rows} transactions to {}", args.out.display());
            Ok(())
        }
        Command::Scan(args) => runtime()?.block_on(scan::run(&args)),
        #[cfg(feature = "embedded")]
        Command::Bench(args) => runtime()?.block_on(bench::run(&args)),
        Command::Serve(args) => runtime()?.block_on(async {
            let base_path = normalize_base_path(&args.base_path)?;
            let config = args.config.load()?;
            let warehouse = servicewatch::open_warehouse(&config).await?;
            // A trail that cannot be opened stops the start, not a later POST.
            let store = servicewatch::open_store(&config)?;
            let mut state = http::AppState::new(warehouse, config, args.dist);
            state.store = store;
            let state = Arc::new(state);
            let app_port = std::env::var("DATABRICKS_APP_PORT").ok();
            let bind = bind_address(args.bind, app_port.as_deref())?;
            http::serve(state, bind, &base_path).await
        }),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

#[cfg(test)]
mod tests {
    use super::{bind_address, normalize_base_path};

    #[test]
    fn bind_addresses() {
        assert_eq!(bind_address(None, None).unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(bind_address(None, Some("8000")).unwrap().to_string(), "0.0.0.0:8000");
        assert_eq!(
            bind_address(Some("127.0.0.1:9".parse().unwrap()), Some("8000")).unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert!(bind_address(None, Some("http")).is_err());
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("/").unwrap(), "");
        assert_eq!(normalize_base_path("tools/sw/").unwrap(), "/tools/sw");
        assert!(normalize_base_path("/a/../b").is_err());
        assert!(normalize_base_path("/a b").is_err());
    }
}
