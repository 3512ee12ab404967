//! What a client presents to the farm: its transport (TLS with or without its own
//! certificate, or `--insecure`) and, without a certificate, a bearer token.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::token;
use crate::transport::TransportSecurity;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub transport: TransportSecurity,
    /// The `authorization` header every call carries, when the client has a token.
    bearer: Option<MetadataValue<Ascii>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token is not a shotfarm token (sft_ and 64 hex digits); use the one `shotfarm tokens create` printed")]
pub struct MalformedToken;

impl Credentials {
    pub fn new(transport: TransportSecurity, token: Option<&str>) -> Result<Credentials, MalformedToken> {
        let bearer = match token {
            None => None,
            Some(token) if token::well_formed(token) => Some(format!("Bearer {token}").parse().map_err(|_| MalformedToken)?),
            Some(_) => return Err(MalformedToken),
        };
        Ok(Credentials { transport, bearer })
    }

    /// Plaintext and anonymous: tests and trusted networks that said `--insecure`.
    pub fn insecure() -> Credentials {
        Credentials { transport: TransportSecurity::Insecure, bearer: None }
    }

    /// Adds the bearer token to every call of a client built on a channel.
    pub fn interceptor(&self) -> BearerInterceptor {
        BearerInterceptor(self.bearer.clone())
    }
}

/// Puts `authorization: Bearer TOKEN` on every request, when there is a token.
#[derive(Debug, Clone)]
pub struct BearerInterceptor(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(bearer) = &self.0 {
            request.metadata_mut().insert("authorization", bearer.clone());
        }
        Ok(request)
    }
}
