"""Federation: this node's identity (its signed node document), its peers, and the exchange of
shared records between them (the change feed and the pull from each peer)."""
