// Package slack is firebreak's Slack app. It keeps one Block Kit message
// per incident current in a channel (IncidentMessage), posts significant
// events in its thread, opens incident channels for configured
// severities, and turns button clicks and /incident slash commands, sent
// to POST /slack/interactions and /slack/commands (signed, see Verify) or
// over Socket Mode, into incident commands issued as the Slack user. It
// talks to Slack with the slack-go client, imported here as slackapi.
//
// # Delivery
//
// An incident event is applied to the service's projection, and what it
// changes in Slack is written as effect rows (a Slack outbox), in one
// transaction that also records the event id in the inbox and takes the
// incident's flush lease (below). The effects are then performed, and the
// rows of those Slack accepted are deleted, with the lease given up, in
// one more transaction; a thread post or channel that more effects follow
// is deleted right after its call, so a crash repeats at most one of them.
// So:
//   - a redelivered event changes nothing and only performs the effects
//     still pending; a Slack failure returns an error, the event is
//     redelivered, and the effect is retried; a periodic sweep retries
//     what is left after MaxDeliver;
//   - the message is always rendered from the projection at the time of
//     the call, so updates are idempotent and never go backwards (status
//     changes apply only when their incident version is newer);
//   - a crash after Slack accepted a call and before its row is deleted
//     repeats that call. For chat.update and conversations.setTopic this
//     is harmless. Slack has no idempotency key for chat.postMessage. The
//     first post of an incident message carries the incident id in its
//     metadata (IncidentMetadataType); when the post's answer was lost, or
//     the message has waited longer than half a flush lease (a holder that
//     died may have posted it), the channel's latest 200 messages are
//     searched for it first (conversations.history; needs the history
//     scopes) and a found message is recorded instead of posted again.
//     Thread posts have no such lookup, so a crash can show one twice. We
//     chose this at-least-once behaviour over at-most-once, which could
//     lose the incident message entirely.
//
// Effects of one incident are serialized in the process by a lock and
// across replicas by a lease in the database (slack_flush_lease, 30 s):
// only the holder performs the incident's effects; a replica that finds
// the lease taken leaves the effects it added to the holder, which looks
// again after giving the lease up. The holder performs the effects under
// its own deadline (25 s), not the consumer's AckWait, so a slow Slack
// answer is not abandoned and then repeated. A holder that dies keeps the lease
// until it runs out; the next sweep (every minute) then performs what it
// left.
//
// Commands issued for Slack users go through the service's outbox (with a
// row remembering who issued them, so a command.rejected event is told to
// that user ephemerally). Writes that arrive while one transaction is
// being written (issued commands, applied events, deleted effects) share
// the next one, so a burst of clicks or events costs a few transactions; a
// shared transaction that fails is written again part by part. A click is answered 200 at once and handled by a worker; a
// crash between the answer and the outbox write loses that click (the user
// sees nothing happen and clicks again).
package slack
