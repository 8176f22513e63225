//! `servicewatch`: the command line and (from the api issue on) the server.

mod evaluate;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "servicewatch", version, about = "Unusual daily transaction volumes per maintenance service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure every method on labelled synthetic data (precision, recall, F1, AP).
    Evaluate(evaluate::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Evaluate(args) => evaluate::run(&args),
    }
}
