package bus

// InboxPrefix is the prefix of every inbox of region's node (replies to its
// questions and requests, JetStream's answers): NATS permissions let each
// region read its own inboxes only (see deploy/nats), and a node answers a
// question only on the asking region's inboxes.
func InboxPrefix(region string) string { return "_INBOX." + region }
