//! `shotfarm tokens create|list|revoke`: bearer tokens for submitters and operators without a
//! certificate. Operators only. A token is printed once, when it is made; the farm keeps only
//! its fingerprint.

use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{CreateTokenRequest, ListTokensRequest, RevokeTokenRequest};

use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::CommandResult;
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct TokensArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    #[command(subcommand)]
    pub action: TokensAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokensAction {
    /// Make a token and print it (only this once) on stdout.
    Create {
        #[arg(long)]
        name: String,
        /// submitter (own jobs only) or operator (everything).
        #[arg(long, default_value = "submitter")]
        role: String,
    },
    /// The tokens' names, roles and creation times (never the tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: calls with it fail from now on.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

pub fn run(args: TokensArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        match args.action {
            TokensAction::Create { name, role } => {
                let request = CreateTokenRequest { name, role };
                let made = client
                    .call(|channel| {
                        let request = request.clone();
                        async move { Ok(AdminServiceClient::new(channel).create_token(request).await?.into_inner()) }
                    })
                    .await
                    .map_err(status_error)?;
                outln!("{}", made.token);
                eprintln!("token {:?} ({}): shown once; pass it as --token or SHOTFARM_TOKEN", made.name, made.role);
            }
            TokensAction::List { json } => {
                let listed = client
                    .call(|channel| async move { Ok(AdminServiceClient::new(channel).list_tokens(ListTokensRequest {}).await?.into_inner()) })
                    .await
                    .map_err(status_error)?;
                for token in listed.tokens {
                    if json {
                        outln!("{}", serde_json::json!({ "name": token.name, "role": token.role, "created_at_ms": token.created_at_ms }));
                    } else {
                        outln!("{:<24} {:<10} {}", token.name, token.role, token.created_at_ms);
                    }
                }
            }
            TokensAction::Revoke { name } => {
                let request = RevokeTokenRequest { name: name.clone() };
                client
                    .call(|channel| {
                        let request = request.clone();
                        async move { Ok(AdminServiceClient::new(channel).revoke_token(request).await?.into_inner()) }
                    })
                    .await
                    .map_err(status_error)?;
                eprintln!("revoked token {name:?}");
            }
        }
        Ok(())
    })
}
