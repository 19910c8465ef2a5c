// Package slack is firebreak's Slack integration: it verifies requests
// Slack sends (Verify) and renders incidents as Block Kit messages
// (IncidentMessage). It talks to Slack with the slack-go client, imported
// here as slackapi.
package slack
