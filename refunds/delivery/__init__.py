"""Where refunds meet the marketplaces: the outbox (what we must tell a platform) and its
delivery task, webhook intake and processing, polling, the rate limit, and the payload snapshots
the adapters take. It uses the domain (refunds.services) and the vendor code (integrations);
the vendor code never imports it."""
