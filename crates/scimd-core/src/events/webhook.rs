//! Standard Webhooks: the body of a change event and its signature headers.
