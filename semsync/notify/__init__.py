"""Notifications: stories delivered to Slack, email and webhooks, once.

- `channels`: the catalog's `notifications` of a tenant (channels, rules, digest time);
- `content`: what is delivered (an `Alert`, a `Digest`) and the rendered forms of a message;
- `render`: an alert or a digest as Slack Block Kit, a multipart email, a webhook's JSON;
- `transports`: sending one rendered message, with transient and final failures told apart;
- `deliveries`: the deliveries table, selection by rules, snoozes and rate limits.
"""
