package slack

import (
	"context"
	"log/slog"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives interactions and slash commands over Slack's
// Socket Mode (a websocket the app opens with its xapp- token) instead of
// the public HTTP endpoints, until ctx ends. Slack authenticates the
// connection, so there is no request signature to check. opts are the
// Web API client's options (its URL).
func RunSocketMode(ctx context.Context, s *Service, appToken string, opts []slackapi.Option, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	api := slackapi.New("", append(opts, slackapi.OptionAppLevelToken(appToken))...)
	client := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(logger.Handler(), slog.LevelDebug)))
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-client.Events:
				if !ok {
					return
				}
				s.socketEvent(ctx, client, ev)
			}
		}
	}()
	err := client.RunContext(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Service) socketEvent(ctx context.Context, client *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeInteractive:
		cb, ok := ev.Data.(slackapi.InteractionCallback)
		if !ok || ev.Request == nil {
			return
		}
		_ = client.AckCtx(ctx, ev.Request.EnvelopeID, nil)
		if cb.Type != slackapi.InteractionTypeBlockActions {
			return
		}
		for _, a := range cb.ActionCallback.BlockActions {
			s.enqueue(func(ctx context.Context) { s.HandleAction(ctx, cb, *a) })
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slackapi.SlashCommand)
		if !ok || ev.Request == nil {
			return
		}
		reply := s.HandleCommand(ctx, Request{UserID: cmd.UserID, UserName: cmd.UserName, ChannelID: cmd.ChannelID}, cmd.Text)
		_ = client.AckCtx(ctx, ev.Request.EnvelopeID, map[string]string{"response_type": reply.ResponseType(), "text": reply.Text})
	case socketmode.EventTypeInvalidAuth:
		s.log.Error("slack: Socket Mode refused the app token (FIREBREAK_SLACK_APP_TOKEN)")
	case socketmode.EventTypeConnectionError:
		s.log.Warn("slack: Socket Mode connection error", "err", ev.Data)
	}
}
