package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/internal/app"
	"github.com/firebreak-dev/firebreak/internal/client"
	"github.com/firebreak-dev/firebreak/internal/db"
	"github.com/firebreak-dev/firebreak/internal/httpapi"
	"github.com/firebreak-dev/firebreak/services/audit"
	auditpg "github.com/firebreak-dev/firebreak/services/audit/store/postgres"
	auditsqlite "github.com/firebreak-dev/firebreak/services/audit/store/sqlite"
)

// errChainBroken is returned (after the report is printed) when a
// verification finds a bad record, so the command exits non-zero.
var errChainBroken = errors.New("audit log verification failed")

func newAuditCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the tamper-evident audit log",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	cf.add(cmd)
	cmd.AddCommand(newAuditVerifyCmd(stdout, &cf), newAuditExportCmd(stdout, &cf), newAuditVerifyExportCmd(stdout), newAuditArchiveCmd(stdout, &cf), newAuditCheckpointCmd(stdout, &cf))
	return cmd
}

func newAuditVerifyCmd(stdout io.Writer, cf *clientFlags) *cobra.Command {
	var dataDir, pgURL, schema, pubKey string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit chain and name the first bad record",
		Long: `Recompute the audit log's hash chain from its anchor and check every signed
checkpoint; exit 1 naming the first modified, deleted, inserted or reordered
record.

Against a running server (--server, --token), on a dev data directory
(--data-dir, reading <data-dir>/audit.db; checkpoints are checked with the key
in <data-dir>/audit.key unless --public-key is given), or on PostgreSQL
(--postgres, schema --schema, default fb_audit).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if dataDir != "" && pgURL != "" {
				return usageError{errors.New("--data-dir and --postgres are exclusive")}
			}
			var opts []audit.VerifyOption
			if pubKey != "" {
				k, err := audit.ParsePublicKey(pubKey)
				if err != nil {
					return usageError{fmt.Errorf("--public-key: %w", err)}
				}
				opts = append(opts, audit.WithPublicKey(k))
			}
			var (
				rep audit.Report
				err error
			)
			switch {
			case dataDir != "":
				if pubKey == "" {
					if b, err := os.ReadFile(filepath.Join(dataDir, "audit.key")); err == nil {
						s, err := audit.ParseSigningKey(string(b))
						if err != nil {
							return err
						}
						k, _ := audit.ParsePublicKey(s.PublicKey())
						opts = append(opts, audit.WithPublicKey(k))
					}
				}
				rep, err = verifyDataDir(ctx, dataDir, opts)
			case pgURL != "":
				rep, err = verifyPostgres(ctx, pgURL, schema, opts)
			default:
				err = apiGet(ctx, cf, "/api/v1/audit/verify", &rep)
			}
			if err != nil {
				return err
			}
			if cf.json {
				if err := printJSON(stdout, rep); err != nil {
					return err
				}
			} else {
				printReport(stdout, rep)
			}
			if !rep.OK {
				return fmt.Errorf("%w: %v", errChainBroken, rep.Problem)
			}
			return nil
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "", "verify the dev data directory's audit.db offline")
	c.Flags().StringVar(&pgURL, "postgres", "", "verify the audit schema in this PostgreSQL database")
	c.Flags().StringVar(&schema, "schema", app.PostgresSchema(audit.Name), "the audit service's PostgreSQL schema (with --postgres)")
	c.Flags().StringVar(&pubKey, "public-key", "", "base64 Ed25519 public key that must have signed the checkpoints")
	return c
}

func verifyDataDir(ctx context.Context, dir string, opts []audit.VerifyOption) (audit.Report, error) {
	path := filepath.Join(dir, audit.Name+".db")
	if _, err := os.Stat(path); err != nil {
		return audit.Report{}, fmt.Errorf("no audit log at %s: %w", path, err)
	}
	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		return audit.Report{}, err
	}
	defer d.Close()
	return audit.Verify(ctx, auditsqlite.New(d), opts...)
}

func verifyPostgres(ctx context.Context, dsn, schema string, opts []audit.VerifyOption) (audit.Report, error) {
	pool, err := db.OpenPostgres(ctx, dsn, schema)
	if err != nil {
		return audit.Report{}, err
	}
	defer pool.Close()
	return audit.Verify(ctx, auditpg.New(pool), opts...)
}

func printReport(w io.Writer, rep audit.Report) {
	if rep.OK {
		fmt.Fprintf(w, "OK: %d %s verified (records %d–%d), %d %s matched", rep.Records, plural(int(rep.Records), "record"), rep.From, rep.To,
			rep.Checkpoints, plural(rep.Checkpoints, "checkpoint"))
		if rep.SignedThrough > 0 {
			fmt.Fprintf(w, ", signed through record %d", rep.SignedThrough)
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "FAILED at record %d: %s\n", rep.Problem.Seq, rep.Problem.Reason)
	if rep.Records > 0 {
		fmt.Fprintf(w, "(records %d–%d before it are intact)\n", rep.From, rep.To)
	}
}

// apiGet GETs path from the server and decodes the answer into out.
func apiGet(ctx context.Context, cf *clientFlags, path string, out any) error {
	return apiDo(ctx, cf, http.MethodGet, path, out)
}

func apiDo(ctx context.Context, cf *clientFlags, method, path string, out any) error {
	tok := cf.token
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(".firebreak", "admin.token"))
		if err != nil {
			return usageError{errors.New("no token: pass --token or set FIREBREAK_TOKEN (or run 'firebreak dev' here first)")}
		}
		tok = strings.TrimSpace(string(b))
	}
	server := strings.TrimRight(cf.server, "/")
	req, err := http.NewRequestWithContext(ctx, method, server+path, nil)
	if err != nil {
		return usageError{fmt.Errorf("bad server URL %q: %w", server, err)}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	hc := &http.Client{Timeout: 5 * time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach firebreak at %s: %w", server, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			return &client.APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
		}
		return &client.APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
	}
	return json.Unmarshal(raw, out)
}

func newAuditExportCmd(stdout io.Writer, cf *clientFlags) *cobra.Command {
	var since, until, typ, actor, incident, format, out string
	c := &cobra.Command{
		Use:   "export",
		Short: "Export audit records (and their checkpoints) as JSONL or CSV",
		Long: `Export the audit records recorded in [--since, --until) from the server,
optionally only those of one --type, --actor or --incident. JSONL carries the
signed checkpoints too, so 'firebreak audit verify-export' can check it
offline with only the public key; a filtered export verifies record by record
(the chain between filtered-out records cannot be checked).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" && format != "csv" {
				return usageError{fmt.Errorf("--format must be jsonl or csv, got %q", format)}
			}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				if _, err := audit.ParseTimeBound(v, time.Now()); err != nil {
					return usageError{fmt.Errorf("--%s %v", name, err)}
				}
			}
			w := stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				bw := bufio.NewWriter(f)
				defer bw.Flush()
				w = bw
			}
			q := url.Values{}
			for k, v := range map[string]string{"since": since, "until": until, "type": typ, "actor": actor, "incident": incident} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return exportAudit(cmd.Context(), cf, q, format, typ != "" || actor != "" || incident != "", w)
		},
	}
	c.Flags().StringVar(&since, "since", "", "only records recorded at or after this RFC 3339 time, or this long ago (30d, 12h, 90m)")
	c.Flags().StringVar(&until, "until", "", "only records recorded before this RFC 3339 time, or this long ago (30d, 12h, 90m)")
	c.Flags().StringVar(&typ, "type", "", "only this event or command type (e.g. incident.acknowledged)")
	c.Flags().StringVar(&actor, "actor", "", "only this actor id")
	c.Flags().StringVar(&incident, "incident", "", "only this incident (id)")
	c.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return c
}

// exportAudit pages through GET /api/v1/audit and writes what it gets; for
// JSONL it adds the checkpoints from the one before the first record to the
// last record, each after the record it signs.
func exportAudit(ctx context.Context, cf *clientFlags, q url.Values, format string, filtered bool, w io.Writer) error {
	return exportAuditThrough(ctx, cf, q, format, filtered, 0, w)
}

// exportAuditThrough exports the records up to seq through (0: all).
func exportAuditThrough(ctx context.Context, cf *clientFlags, q url.Values, format string, filtered bool, through int64, w io.Writer) error {
	var (
		jw  *audit.JSONLWriter
		cw  *audit.CSVWriter
		cps []audit.Checkpoint
		err error
	)
	if format == "csv" {
		if cw, err = audit.NewCSVWriter(w); err != nil {
			return err
		}
	} else {
		var all audit.CheckpointsJSON
		if err := apiGet(ctx, cf, "/api/v1/audit/checkpoints", &all); err != nil {
			return err
		}
		cps = all.Items
		if jw, err = audit.NewJSONLWriter(w, audit.ExportHeader{ExportedAt: time.Now().UTC(), PublicKey: all.PublicKey, Filtered: filtered}); err != nil {
			return err
		}
	}
	q.Set("limit", strconv.Itoa(audit.MaxListLimit))
	i := 0
	for {
		var page audit.ListJSON
		if err := apiGet(ctx, cf, "/api/v1/audit?"+q.Encode(), &page); err != nil {
			return err
		}
		for _, r := range page.Items {
			if through > 0 && r.Seq > through {
				page.NextCursor = ""
				break
			}
			if cw != nil {
				if err := cw.Record(r); err != nil {
					return err
				}
				continue
			}
			for i < len(cps) && cps[i].Seq < r.Seq {
				// A checkpoint of the record just before this one pins its
				// prev_hash (at the start, or after a filtered-out record).
				if cps[i].Seq == r.Seq-1 {
					if err := jw.Checkpoint(cps[i]); err != nil {
						return err
					}
				}
				i++
			}
			if err := jw.Record(r); err != nil {
				return err
			}
			for i < len(cps) && cps[i].Seq == r.Seq {
				if err := jw.Checkpoint(cps[i]); err != nil {
					return err
				}
				i++
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if cw != nil {
		return cw.Flush()
	}
	return nil
}

func newAuditVerifyExportCmd(stdout io.Writer) *cobra.Command {
	var pubKey string
	c := &cobra.Command{
		Use:   "verify-export FILE",
		Short: "Verify a JSONL audit export offline with only the public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pubKey == "" {
				return usageError{errors.New("--public-key is required (the base64 Ed25519 public key of the audit service)")}
			}
			k, err := audit.ParsePublicKey(pubKey)
			if err != nil {
				return usageError{fmt.Errorf("--public-key: %w", err)}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := audit.VerifyExport(f, ed25519.PublicKey(k))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			printReport(stdout, rep)
			if rep.OK && rep.SignedThrough < rep.To {
				fmt.Fprintf(stdout, "note: records after %d are not covered by a checkpoint in the export\n", rep.SignedThrough)
			}
			if !rep.OK {
				return fmt.Errorf("%w: %v", errChainBroken, rep.Problem)
			}
			return nil
		},
	}
	c.Flags().StringVar(&pubKey, "public-key", "", "base64 Ed25519 public key of the audit service (required)")
	return c
}

func newAuditArchiveCmd(stdout io.Writer, cf *clientFlags) *cobra.Command {
	var before, out string
	c := &cobra.Command{
		Use:   "archive --before TIME -o FILE",
		Short: "Move the log's oldest records to a verified file, then delete them from the live log",
		Long: `Retention. The server picks the newest signed checkpoint whose record was
recorded before --before (an RFC 3339 time or a duration back from now, e.g.
365d). The records up to it are exported to FILE (JSONL with their
checkpoints; the file must not exist), the file is verified offline against
the audit public key, and only then are those records deleted from the live
log, in one transaction that makes the checkpoint the chain's anchor:
verification of what remains starts from its hash. Check the file later
with 'firebreak audit verify-export FILE --public-key KEY'. Needs an admin
token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if before == "" || out == "" {
				return usageError{errors.New("--before and --output are required")}
			}
			if _, err := audit.ParseTimeBound(before, time.Now()); err != nil {
				return usageError{fmt.Errorf("--before %v", err)}
			}
			ctx := cmd.Context()
			var plan audit.ArchiveJSON
			if err := apiDo(ctx, cf, http.MethodPost, "/api/v1/audit/archive?dry_run=true&before="+url.QueryEscape(before), &plan); err != nil {
				return err
			}
			if plan.Anchor == nil {
				fmt.Fprintln(stdout, "nothing to archive: no signed checkpoint before", before)
				return nil
			}
			cut := *plan.Anchor
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			bw := bufio.NewWriter(f)
			err = exportAuditThrough(ctx, cf, url.Values{}, "jsonl", false, cut.Seq, bw)
			if err == nil {
				err = bw.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("export to %s (nothing was deleted): %w", out, err)
			}
			var cps audit.CheckpointsJSON
			if err := apiGet(ctx, cf, "/api/v1/audit/checkpoints", &cps); err != nil {
				return err
			}
			pub, err := audit.ParsePublicKey(cps.PublicKey)
			if err != nil {
				return fmt.Errorf("the server's audit public key: %w", err)
			}
			rf, err := os.Open(out)
			if err != nil {
				return err
			}
			rep, err := audit.VerifyExport(rf, pub)
			rf.Close()
			if err != nil {
				return fmt.Errorf("verify %s (nothing was deleted): %w", out, err)
			}
			if !rep.OK || rep.To != cut.Seq || rep.SignedThrough != cut.Seq {
				return fmt.Errorf("%w: %s does not verify through checkpoint %d (ok %v, records to %d, signed through %d, problem %v); nothing was deleted",
					errChainBroken, out, cut.Seq, rep.OK, rep.To, rep.SignedThrough, rep.Problem)
			}
			var done audit.ArchiveJSON
			if err := apiDo(ctx, cf, http.MethodPost, "/api/v1/audit/archive?through="+strconv.FormatInt(cut.Seq, 10), &done); err != nil {
				return fmt.Errorf("%s is written and verified, but deleting from the live log failed: %w", out, err)
			}
			fmt.Fprintf(stdout, "archived records %d-%d to %s (verified, signed through %d); %d deleted from the live log, which now starts after checkpoint %d (hash %s)\n",
				rep.From, rep.To, out, rep.SignedThrough, done.Archived, cut.Seq, cut.Hash)
			return nil
		},
	}
	c.Flags().StringVar(&before, "before", "", "archive records recorded before this RFC 3339 time or this long ago (e.g. 365d)")
	c.Flags().StringVarP(&out, "output", "o", "", "file to write the archived records to (must not exist)")
	return c
}

func newAuditCheckpointCmd(stdout io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint at the log's head now (needs an admin token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c audit.Checkpoint
			if err := apiDo(cmd.Context(), cf, http.MethodPost, "/api/v1/audit/checkpoints", &c); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "checkpoint at record %d (hash %s), signed by %s\n", c.Seq, c.Hash, c.PublicKey)
			return nil
		},
	}
}
