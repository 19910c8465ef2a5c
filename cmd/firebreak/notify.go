package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-dev/firebreak/services/notify"
)

// notifyFlags are the notify service's flags on dev and serve (also
// FIREBREAK_SMTP_HOST, FIREBREAK_WEBHOOK_SECRET, … in the environment).
type notifyFlags struct {
	smtpHost, smtpUser, smtpPassword, smtpFrom string
	smtpPort                                   int
	smtpStartTLS                               bool
	webhookSecret, publicURL                   string
	maxAttempts                                int
	sendTimeout                                time.Duration
	subscriberSecret                           string
}

func addNotifyFlags(f *pflag.FlagSet) *notifyFlags {
	n := &notifyFlags{}
	f.StringVar(&n.smtpHost, "smtp-host", "", "SMTP submission server for email pages (none: email pages fail and fall through to the next rule)")
	f.IntVar(&n.smtpPort, "smtp-port", 587, "SMTP server port")
	f.StringVar(&n.smtpUser, "smtp-username", "", "SMTP user for AUTH PLAIN (empty: no authentication)")
	f.StringVar(&n.smtpPassword, "smtp-password", "", "SMTP password (prefer FIREBREAK_SMTP_PASSWORD; never logged)")
	f.StringVar(&n.smtpFrom, "smtp-from", "", "sender address of email pages, e.g. 'firebreak <pager@example.com>'")
	f.BoolVar(&n.smtpStartTLS, "smtp-starttls", true, "require STARTTLS before authenticating and sending (off only for a relay on localhost)")
	f.StringVar(&n.webhookSecret, "webhook-secret", "", "secret signing webhook pages (X-Firebreak-Signature; prefer FIREBREAK_WEBHOOK_SECRET; never logged)")
	f.StringVar(&n.subscriberSecret, "notify-subscriber-secret", "", "secret deriving subscribers' unsubscribe links (prefer FIREBREAK_NOTIFY_SUBSCRIBER_SECRET; none: subscriptions are refused; never logged)")
	f.IntVar(&n.maxAttempts, "notify-max-attempts", 5, "attempts per page delivery before it fails and falls through to the next notification rule")
	f.DurationVar(&n.sendTimeout, "notify-send-timeout", 15*time.Second, "time limit of one delivery attempt")
	return n
}

// config is the notify.Config the flags describe.
func (n *notifyFlags) config() (notify.Config, error) {
	startTLS := n.smtpStartTLS
	c := notify.Config{
		SMTP: notify.SMTPConfig{Host: n.smtpHost, Port: n.smtpPort, Username: n.smtpUser, Password: n.smtpPassword,
			From: n.smtpFrom, StartTLS: &startTLS},
		WebhookSecret: n.webhookSecret, PublicURL: n.publicURL, MaxAttempts: n.maxAttempts, SendTimeout: n.sendTimeout,
		SubscriberSecret: n.subscriberSecret,
	}
	if n.maxAttempts < 1 {
		return c, usageError{fmt.Errorf("--notify-max-attempts must be at least 1, got %d", n.maxAttempts)}
	}
	if n.sendTimeout <= 0 {
		return c, usageError{fmt.Errorf("--notify-send-timeout must be positive, got %s", n.sendTimeout)}
	}
	if err := c.Validate(); err != nil {
		return c, usageError{err}
	}
	return c, nil
}

func newNotificationsCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "notifications <incident>",
		Short: "List how an incident's pages were delivered (provider, target, status, attempts, reason)",
		Long: `List the deliveries of an incident's pages, by incident id or INC-n: the
provider (slack, email, webhook, teams), who or what was paged, the contact
method, the status (sent, failed, retrying), the attempts so far and why a
delivery failed. Contact addresses and secrets are never shown.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			out, err := c.Notifications(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(stdout, out)
			}
			if len(out.Notifications) == 0 {
				fmt.Fprintf(stdout, "no notifications for %s\n", args[0])
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tTARGET\tMETHOD\tLEVEL\tSTATUS\tATTEMPTS\tUPDATED\tREASON")
			for _, d := range out.Notifications {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", d.Provider, d.Target, dash(d.ContactMethod), d.Level,
					d.Status, d.Attempts, d.UpdatedAt.Local().Format("2006-01-02 15:04:05"), dash(d.Reason))
			}
			return tw.Flush()
		},
	}
	cf.add(cmd)
	return cmd
}
