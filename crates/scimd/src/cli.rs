//! The command line: global options every subcommand understands, then the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "scimd",
    version,
    about = "An identity provisioning server: SCIM 2.0 for Okta, Entra ID and any SCIM client"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options read by every subcommand. Flags win over `SCIMD_*` variables, which win over the
/// configuration file, which wins over the defaults.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalOpts {
    /// Database URL: sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE [default: sqlite://./scimd.db]
    #[arg(long, global = true, env = "SCIMD_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// PostgreSQL: most connections this process opens [default: 16]
    #[arg(long, global = true, env = "SCIMD_DB_POOL_SIZE", value_name = "N")]
    pub db_pool_size: Option<usize>,
    /// PostgreSQL: how long to wait for a connection to be made, e.g. 5s [default: 5s]
    #[arg(long, global = true, env = "SCIMD_DB_TIMEOUT", value_name = "DURATION")]
    pub db_timeout: Option<String>,
    /// File holding the 32-byte key that seals client secrets [default: ./scimd.key]
    #[arg(long, global = true, env = "SCIMD_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The URL identity providers reach this server at [default: derived from the listen address]
    #[arg(long, global = true, env = "SCIMD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Log lines as human-readable text or as JSON objects [default: text]
    #[arg(long, global = true, env = "SCIMD_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Receivers of change events at these addresses are allowed (otherwise only https to
    /// public addresses), comma-separated, e.g. 10.0.0.0/8,127.0.0.1 [default: none]
    #[arg(long, global = true, env = "SCIMD_RECEIVER_ALLOW", value_name = "CIDR,...")]
    pub receiver_allow: Option<String>,
    /// A TOML configuration file (keys: database, db_pool_size, db_timeout, key_file, public_url, listen, max_connections, max_pending_per_address, header_timeout, body_timeout, shutdown_timeout, trusted_proxies, tls_cert, tls_key, receiver_allow, delivery_give_up, delivery_first_retry, event_retention, provisioning_log, log_failure_retention, log_failure_max, log_success_max)
    #[arg(long, global = true, env = "SCIMD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server
    Serve(ServeArgs),
    /// Register and manage identity providers
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// Obtain an activation token with the client-credentials grant (from any OAuth 2.0 server)
    Token(TokenArgs),
    /// Provision users and groups from a CSV, JSON or LDIF file into any SCIM 2.0 server
    Push(PushArgs),
    /// Users provisioned into a population: list, restore, renew access, erase
    #[command(subcommand)]
    Users(UsersCmd),
    /// Groups provisioned into a population (third-party groups are vendor groups)
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Purge soft-deleted users and groups past their provider's retention, now
    Purge {
        /// Only list what would be purged
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Administrators of the console and tokens of the admin API
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Apply database migrations and exit
    Migrate,
    /// The key file that seals client secrets, webhook secrets and SET signing keys
    #[command(subcommand)]
    Key(KeyCmd),
    /// Write a consistent backup of the database to FILE, while scimd runs
    Backup {
        /// The backup file (JSON lines; created with mode 0600)
        file: PathBuf,
        /// Include the provisioning log (request bodies and client addresses: personal
        /// data), which is left out otherwise
        #[arg(long)]
        with_logs: bool,
    },
    /// Load a backup into an empty database (SQLite or PostgreSQL, whichever made it)
    Restore {
        file: PathBuf,
        /// Replace everything in a database that is not empty
        #[arg(long)]
        force: bool,
    },
    /// Read the audit log and verify its hash chain
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Subscriptions that receive change events as Standard Webhooks or Security Event Tokens
    #[command(subcommand)]
    Subscription(SubscriptionCmd),
    /// The providers' change streams, and the keys that sign Security Event Tokens
    #[command(subcommand)]
    Events(EventsCmd),
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Seal every secret again under a new key, in one transaction, while scimd serves; the
    /// new key takes the key file's place and the old one is kept beside it as .previous
    Rotate {
        /// The new key: 32 bytes, created (mode 0600) when the file does not exist
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionCmd {
    /// Subscribe a receiver; prints its id and, for webhooks, the signing secret (shown once)
    Add(SubscriptionAddArgs),
    /// List subscriptions with their state and lag
    List(JsonFlag),
    /// A subscription's state, lag, last success and last error
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop delivering (events are kept for it, up to 30 days)
    Pause { id: String },
    /// Deliver again from where it stopped
    Resume { id: String },
    /// Delete a subscription
    Remove { id: String },
    /// A new webhook signing secret; the old one keeps signing alongside it for the overlap
    RotateSecret {
        id: String,
        /// How long the old secret still signs, e.g. 24h [default: 24h]
        #[arg(long, default_value = "24h")]
        overlap: String,
        #[arg(long)]
        json: bool,
    },
    /// Deliver again from a position of the stream (inclusive)
    Replay {
        id: String,
        #[arg(long, value_name = "POSITION")]
        from: i64,
        /// Of this provider's stream only [default: every provider the subscription covers]
        #[arg(long)]
        provider: Option<String>,
    },
    /// The last delivery attempts, newest first, with status and latency
    Deliveries {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Events the receiver kept refusing, set aside so that later ones flow
    DeadLetters {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Deliver the dead letters again (from the oldest of each provider)
    Retry { id: String },
}

#[derive(Args, Debug)]
pub struct SubscriptionAddArgs {
    /// Where events are POSTed (https; other addresses only when --receiver-allow allows them).
    /// Without it, a set subscription is polled (RFC 8936)
    #[arg(long)]
    pub url: Option<String>,
    /// webhook (Standard Webhooks) or set (RFC 9967 Security Event Tokens)
    #[arg(long)]
    pub format: String,
    /// Only this provider's events (repeatable)
    #[arg(long = "provider", value_name = "ID")]
    pub providers: Vec<String>,
    /// Only this population's events: internal or third-party
    #[arg(long)]
    pub population: Option<String>,
    /// Only these event types, comma-separated, e.g. user.created,user.deactivated
    #[arg(long, value_name = "TYPE,...")]
    pub events: Option<String>,
    /// full (the resource after the change) or notice (ids and attribute names only)
    #[arg(long, default_value = "full")]
    pub payload: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum EventsCmd {
    /// Follow the change streams as events are appended
    Tail {
        #[arg(long)]
        provider: Option<String>,
        /// JSON lines
        #[arg(long)]
        json: bool,
    },
    /// A page of events: of one provider from a position, or of all in the order stored
    List {
        #[arg(long)]
        provider: Option<String>,
        /// With --provider: from this position (inclusive)
        #[arg(long, value_name = "POSITION")]
        from: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// The keys that sign Security Event Tokens
    #[command(subcommand)]
    Key(EventsKeyCmd),
}

#[derive(Subcommand, Debug)]
pub enum EventsKeyCmd {
    /// Make a new signing key; the old ones stay published at /.well-known/jwks.json for the overlap
    Rotate {
        /// How long the previous keys stay published, e.g. 24h [default: 24h]
        #[arg(long, default_value = "24h")]
        overlap: String,
        #[arg(long)]
        json: bool,
    },
    /// The published keys
    List(JsonFlag),
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check every event's link to the one before it; fail naming the first broken one
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// The newest events first
    List {
        /// Only events about this provider
        #[arg(long)]
        provider: Option<String>,
        /// Only this action, e.g. provider.secret.reveal
        #[arg(long)]
        action: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Create an administrator who signs in to the console (there is no default account)
    Add {
        name: String,
        /// Read the password from standard input (one line); required, so it never shows in
        /// the process list or the shell history
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Admin API tokens
    #[command(subcommand)]
    Token(AdminTokenCmd),
}

#[derive(Subcommand, Debug)]
pub enum AdminTokenCmd {
    /// Create an admin API token and print it (shown once)
    Create { name: String },
    /// List admin API tokens
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke the live admin API token with this name
    Revoke { name: String },
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SCIMD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Most connections open at once; past it the oldest idle one is closed, and only when
    /// all are busy is a new one answered 503 [default: from the open-file limit, at most 10000]
    #[arg(long, env = "SCIMD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most connections one address may hold before they send a complete request; past it
    /// its oldest such connection is closed [default: 64]
    #[arg(long, env = "SCIMD_MAX_PENDING_PER_ADDRESS", value_name = "N")]
    pub max_pending_per_address: Option<usize>,
    /// How long a client may take to send a request's headers, e.g. 10s [default: 10s]
    #[arg(long, env = "SCIMD_HEADER_TIMEOUT", value_name = "DURATION")]
    pub header_timeout: Option<String>,
    /// How long a client may take to send a request's body (408 beyond) [default: 30s]
    #[arg(long, env = "SCIMD_BODY_TIMEOUT", value_name = "DURATION")]
    pub body_timeout: Option<String>,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish [default: 30s]
    #[arg(long, env = "SCIMD_SHUTDOWN_TIMEOUT", value_name = "DURATION")]
    pub shutdown_timeout: Option<String>,
    /// The key file is missing but the database holds sealed client secrets: start anyway
    /// with a new key, and mark every provider's secret as lost (rotate each one)
    #[arg(long)]
    pub accept_new_key: bool,
    /// Proxies whose X-Forwarded-For is believed, comma-separated, e.g. 10.0.0.0/8,127.0.0.1 [default: none]
    #[arg(long, env = "SCIMD_TRUSTED_PROXIES", value_name = "CIDR,...")]
    pub trusted_proxies: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key)
    #[arg(long, env = "SCIMD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "SCIMD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// An event a receiver keeps failing is dead-lettered after this long, e.g. 3d [default: 3d]
    #[arg(long, env = "SCIMD_DELIVERY_GIVE_UP", value_name = "DURATION")]
    pub delivery_give_up: Option<String>,
    /// The first retry of a failed delivery waits this long, doubling after, e.g. 1s [default: 1s]
    #[arg(long, env = "SCIMD_DELIVERY_FIRST_RETRY", value_name = "DURATION")]
    pub delivery_first_retry: Option<String>,
    /// Change events are kept this long (longer, up to 30 days, while a subscription has not
    /// delivered them), e.g. 7d [default: 7d]
    #[arg(long, env = "SCIMD_EVENT_RETENTION", value_name = "DURATION")]
    pub event_retention: Option<String>,
    /// Record every authenticated SCIM request in its provider's provisioning log [default: on]
    #[arg(long, env = "SCIMD_PROVISIONING_LOG", value_enum, value_name = "on|off")]
    pub provisioning_log: Option<Switch>,
    /// Failures in the provisioning log are kept this long, e.g. 7d (providers may override) [default: 7d]
    #[arg(long, env = "SCIMD_LOG_FAILURE_RETENTION", value_name = "DURATION")]
    pub log_failure_retention: Option<String>,
    /// At most this many failures are kept per provider (providers may override) [default: 100000]
    #[arg(long, env = "SCIMD_LOG_FAILURE_MAX", value_name = "N")]
    pub log_failure_max: Option<String>,
    /// The last this many successes are kept per provider (providers may override) [default: 10000]
    #[arg(long, env = "SCIMD_LOG_SUCCESS_MAX", value_name = "N")]
    pub log_success_max: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

#[derive(Subcommand, Debug)]
pub enum ProviderCmd {
    /// Register an identity provider and print its Base URL, Token URL, client id and secret
    Add(ProviderAddArgs),
    /// List providers
    List(JsonFlag),
    /// Show a provider's details (the client secret masked unless --reveal)
    Show {
        id: String,
        /// Show the client secret in clear (recorded in the audit log)
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a provider's settings (its population is fixed)
    Update(ProviderUpdateArgs),
    /// Replace the client secret (issued tokens stay valid; revoke them apart)
    RotateSecret {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Allow the provider to obtain tokens and push again
    Enable { id: String },
    /// Refuse the provider's tokens and token requests until enabled again
    Disable { id: String },
    /// Delete a provider, its tokens and everything it provisioned
    Delete {
        id: String,
        /// Confirm the deletion
        #[arg(long)]
        yes: bool,
    },
    /// List the tokens issued to a provider
    Tokens {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one token by its id, or all of the provider's tokens
    RevokeToken {
        id: String,
        /// The token's id, as shown by `scimd provider tokens`
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        token_id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Write a Postman collection (v2.1) for the provider
    Postman {
        id: String,
        /// Write to FILE instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Extension schemas (custom attributes) of a provider's users and groups
    #[command(subcommand)]
    Schema(SchemaCmd),
    /// Setup links: a page where the identity provider's own administrator connects it
    #[command(subcommand)]
    SetupLink(SetupLinkCmd),
    /// The provider's provisioning log: its authenticated SCIM requests, newest first
    Log(ProviderLogArgs),
    /// The mass-deletion guard: whether it is tripped, and releasing it
    #[command(subcommand)]
    Guard(GuardCmd),
}

#[derive(Args, Debug)]
pub struct ProviderLogArgs {
    pub id: String,
    /// Only failed requests
    #[arg(long)]
    pub failed: bool,
    /// Only this status class or status: 2xx, 4xx, 5xx, 409
    #[arg(long)]
    pub status: Option<String>,
    /// Only paths (relative to the Base URL) starting with this, e.g. /Users
    #[arg(long)]
    pub path: Option<String>,
    /// From this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many (1 to 1000)
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Older than this entry (the cursor printed after a full page)
    #[arg(long, value_name = "SEQ", conflicts_with = "follow")]
    pub before: Option<i64>,
    /// Keep printing new entries as they are written (a second or so after each request)
    #[arg(long)]
    pub follow: bool,
    /// Each entry with its error and masked body, instead of a table
    #[arg(long, conflicts_with = "json")]
    pub long: bool,
    /// A JSON array (JSON lines with --follow)
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum GuardCmd {
    /// Whether the provider's guard is tripped, and why
    Status {
        provider: String,
        #[arg(long)]
        json: bool,
    },
    /// Lift a tripped guard: the deletes and deactivations it refused go through when retried
    Release { provider: String },
}

#[derive(Subcommand, Debug)]
pub enum SetupLinkCmd {
    /// Make a setup link and print its URL (shown once: only its digest is kept)
    Create {
        provider: String,
        /// How long the link works, e.g. 72h or 7d; at most 30d
        #[arg(long, default_value = "72h")]
        expires: String,
        /// The page may show the client secret, once (for Entra's OAuth option)
        #[arg(long)]
        reveal_secret: bool,
        /// Print {"id", "url", "expires"} as JSON
        #[arg(long)]
        json: bool,
    },
    /// List a provider's setup links with their state and the tokens made through each
    List {
        provider: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a setup link: its page stops working at once
    Revoke {
        provider: String,
        /// The link's id, as `setup-link list` shows it
        link_id: String,
        /// Also revoke the live tokens made through the link
        #[arg(long)]
        revoke_tokens: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SchemaCmd {
    /// Declare an extension schema (RFC 7643 section 7 JSON) for the provider's users or groups
    Add {
        provider: String,
        /// The schema definition: {"id": "urn:...", "attributes": [...]}
        #[arg(long, value_name = "SCHEMA.json")]
        file: PathBuf,
        /// User (default) or Group
        #[arg(long, default_value = "User")]
        resource_type: String,
        /// Every user (or group) must carry it
        #[arg(long)]
        required: bool,
        /// Keep an index of this string attribute for fast lookups (repeatable)
        #[arg(long = "index", value_name = "ATTR")]
        index: Vec<String>,
        /// Drop stored values that do not fit the schema instead of refusing (audited)
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the provider's extension schemas, and what it sent that none declares
    List {
        provider: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove an extension schema (refused while resources hold values for it, unless --force)
    Remove {
        provider: String,
        urn: String,
        /// Confirm
        #[arg(long)]
        yes: bool,
        /// Also delete the values resources hold for it (each change audited)
        #[arg(long)]
        force: bool,
    },
}

/// Which of a population's users or groups to list.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// internal (staff) or third-party (vendors)
    #[arg(long)]
    pub population: String,
    /// At most this many
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// List them, oldest first (with --json: each user's access_state)
    List(ListArgs),
    /// List the soft-deleted ones, newest deletion first
    Deleted(ListArgs),
    /// Bring a soft-deleted user back (same id and attributes; it rejoins its groups that still exist)
    Restore { id: String },
    /// Renew a user's access for a period from now
    Renew(RenewArgs),
    /// Users whose access ends within two weeks, or ended
    Expiring(ListArgs),
    /// Erase a user for good (a data subject's request): live or soft-deleted, with the values
    /// change events kept of it
    Erase {
        id: String,
        /// Confirm the erasure
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// List them, oldest first
    List(ListArgs),
    /// List the soft-deleted ones, newest deletion first
    Deleted(ListArgs),
    /// Bring a soft-deleted group back (same id and attributes, with its members that still exist)
    Restore { id: String },
    /// Renew the access of every user in the group for a period from now
    Renew(RenewArgs),
}

#[derive(Args, Debug)]
pub struct RenewArgs {
    pub id: String,
    /// How long from now, e.g. 90d
    #[arg(long = "for", value_name = "DURATION")]
    pub period: String,
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ProviderAddArgs {
    /// A display name; the provider's id is its slug
    #[arg(long)]
    pub name: String,
    /// Where its users and groups land: internal (staff) or third-party (vendors); fixed forever
    #[arg(long)]
    pub population: String,
    #[arg(long, default_value = "")]
    pub description: String,
    /// A tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Lifetime of issued tokens, e.g. 365d, 90d, 12h
    #[arg(long, default_value = "365d", value_name = "DURATION")]
    pub token_ttl: String,
    /// Only accept token and SCIM requests from this network (repeatable), e.g. 10.0.0.0/8
    #[arg(long = "allowed-ip", value_name = "CIDR")]
    pub allowed_ips: Vec<String>,
    /// Register it disabled
    #[arg(long)]
    pub disabled: bool,
    /// How a group PATCH without `attributes` is answered: no-content (204) or full (200
    /// with the group and all its members)
    #[arg(long, value_name = "no-content|full", default_value = "no-content")]
    pub group_patch_response: String,
    /// What happens to attributes no schema declares: keep them as sent, or reject the request
    #[arg(long, value_name = "keep|reject", default_value = "keep")]
    pub undeclared: String,
    #[command(flatten)]
    pub log: ProviderLogSettings,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[arg(long)]
    pub json: bool,
}

/// What happens to a provider's users and groups over time, for `provider add` and
/// `provider update` (left out: the default on add, unchanged on update).
#[derive(Args, Debug, Default)]
pub struct LifecycleArgs {
    /// What a DELETE does: soft (kept, restorable, for --retention) or hard (gone for good)
    /// [default: soft]
    #[arg(long, value_name = "soft|hard")]
    pub on_delete: Option<String>,
    /// How long soft-deleted users and groups are kept before they are purged (a change
    /// applies to those deleted already), e.g. 30d, 12h, 2s [default: 30d]
    #[arg(long, value_name = "DURATION")]
    pub retention: Option<String>,
    /// Users created from now on get an access end date this long after, e.g. 90d; none to
    /// stop (users keep the end dates they have) [default: none]
    #[arg(long, value_name = "DURATION|none")]
    pub access_ttl: Option<String>,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// A provider's own retention of its provisioning log; `default` is the server's.
#[derive(Args, Debug, Default)]
pub struct ProviderLogSettings {
    /// Failed requests are kept this long, e.g. 30d, or default [default: the server's, 7d]
    #[arg(long, value_name = "DURATION|default")]
    pub log_failure_retention: Option<String>,
    /// At most this many failed requests are kept, or default [default: the server's, 100000]
    #[arg(long, value_name = "N|default")]
    pub log_failure_max: Option<String>,
    /// The last this many successful requests are kept, or default [default: the server's, 10000]
    #[arg(long, value_name = "N|default")]
    pub log_success_max: Option<String>,
}

/// The mass-deletion guard's flags, for `provider add` and `provider update`.
#[derive(Args, Debug, Default)]
pub struct GuardArgs {
    /// The mass-deletion guard: on (default) or off
    #[arg(long, value_name = "on|off")]
    pub guard: Option<String>,
    /// The guard trips when the provider deletes or deactivates more than this share of its
    /// users (or groups) within --guard-window [default: 20%]
    #[arg(long, value_name = "PERCENT")]
    pub guard_share: Option<String>,
    /// The guard's window, e.g. 10m [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub guard_window: Option<String>,
    /// Below this many users (or groups) the guard does not trip [default: 50]
    #[arg(long, value_name = "N")]
    pub guard_min_users: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ProviderUpdateArgs {
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Replace the tags with these (repeatable)
    #[arg(long = "tag", value_name = "TAG", conflicts_with = "clear_tags")]
    pub tags: Vec<String>,
    /// Remove every tag
    #[arg(long)]
    pub clear_tags: bool,
    /// Lifetime of tokens issued from now on, e.g. 365d
    #[arg(long, value_name = "DURATION")]
    pub token_ttl: Option<String>,
    /// Replace the allowed networks with these (repeatable)
    #[arg(long = "allowed-ip", value_name = "CIDR", conflicts_with = "any_ip")]
    pub allowed_ips: Vec<String>,
    /// Remove the network restriction
    #[arg(long)]
    pub any_ip: bool,
    /// How a group PATCH without `attributes` is answered: no-content (204) or full (200
    /// with the group and all its members)
    #[arg(long, value_name = "no-content|full")]
    pub group_patch_response: Option<String>,
    /// What happens to attributes no schema declares: keep them as sent, or reject the request
    #[arg(long, value_name = "keep|reject")]
    pub undeclared: Option<String>,
    #[command(flatten)]
    pub log: ProviderLogSettings,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    Basic,
    Body,
}

/// The client-credentials grant's flags, shared by every command that fetches a token:
/// flags, then `SCIMD_*` variables, then a Postman file.
#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The Token URL
    #[arg(long, env = "SCIMD_TOKEN_URL")]
    pub token_url: Option<String>,
    #[arg(long, env = "SCIMD_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "SCIMD_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Read tokenUrl, scim_client_id and scim_client_secret (and scim_base_url for push) from a Postman collection or environment
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// How the client authenticates to the Token URL
    #[arg(long, value_enum, default_value = "basic")]
    pub auth: AuthArg,
    #[arg(long)]
    pub scope: Option<String>,
    /// Trust the CA certificates in this PEM file for https:// URLs (instead of the web's roots)
    #[arg(long, env = "SCIMD_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub grant: GrantArgs,
    /// Print the whole token response as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceFormat {
    Csv,
    Json,
    Ldif,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum UpdateArg {
    /// PATCH when the server's ServiceProviderConfig says it can, else PUT
    Auto,
    Put,
    Patch,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The directory to push: CSV (header row), JSON (SCIM users and groups) or LDIF
    #[arg(long, value_name = "FILE")]
    pub source: PathBuf,
    /// The source's format [default: from the file extension]
    #[arg(long, value_enum)]
    pub format: Option<SourceFormat>,
    /// Read an LDIF attribute or CSV column (any case) as an extension attribute, e.g.
    /// departmentNumber=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department (repeatable)
    #[arg(long = "map", value_name = "FIELD=URN:ATTR")]
    pub map: Vec<scimd_client::push::FieldMap>,
    /// The SCIM Base URL (or scim_base_url from --from)
    #[arg(long, env = "SCIMD_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// A bearer token; without it one is requested with the client-credentials grant
    #[arg(long, env = "SCIMD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub grant: GrantArgs,
    /// Send no token at all (servers that take any request)
    #[arg(long)]
    pub no_auth: bool,
    /// Print the plan (creates, updates with what changes, deactivations, member adds and removes); write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Deactivate (active=false) users the source does not list
    #[arg(long, conflicts_with = "delete_missing")]
    pub deactivate_missing: bool,
    /// Delete users and groups the source does not list
    #[arg(long)]
    pub delete_missing: bool,
    /// Refuse, before any write, to deactivate or delete more users and groups than this
    #[arg(long, value_name = "N", default_value_t = scimd_client::push::DEFAULT_MAX_REMOVALS)]
    pub max_removals: usize,
    /// Push only groups (their members must already be on the server)
    #[arg(long, conflicts_with = "users_only")]
    pub groups_only: bool,
    /// Push only users
    #[arg(long)]
    pub users_only: bool,
    /// Stop before any write if a source record is bad or a member cannot be found
    #[arg(long)]
    pub strict: bool,
    /// How changed users are written
    #[arg(long, value_enum, default_value = "auto")]
    pub update: UpdateArg,
    /// Most membership changes in one group PATCH
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Create users one POST at a time even when the server offers /Bulk
    #[arg(long)]
    pub no_bulk: bool,
    /// Tries per request on 429, 5xx and connection errors (back-off doubles, Retry-After honoured)
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub retries: u32,
    /// Plain progress lines even on a terminal
    #[arg(long, conflicts_with = "quiet")]
    pub plain: bool,
    /// No progress output
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON (counts of changes and of requests by method)
    #[arg(long)]
    pub json: bool,
}
