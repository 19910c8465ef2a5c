package app

import (
	"github.com/firebreak-dev/firebreak/internal/bus"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/internal/token"
)

// wireSecurityEvents makes the API report refused requests (auth.denied)
// and token uses (token.used) on the bus, where the audit service logs
// them. The request path only queues; a runner publishes.
func (a *App) wireSecurityEvents() error {
	pub := bus.NewPublisher(a.js, a.log)
	se, err := httpapi.NewSecurityEvents(a.log.With("component", "security-events"), a.reg, httpapi.SecurityConfig{
		Publish: pub.PublishEnvelope,
		TokenID: func(bearer string) string {
			id, _ := token.Parse(bearer)
			return id
		},
		Now: a.cfg.Now,
	})
	if err != nil {
		return err
	}
	a.http.SetSecurityEvents(se)
	a.runners = append(a.runners, se.Run)
	return nil
}
