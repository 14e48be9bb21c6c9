// Package prefect produces what Prefect Cloud would return in the place of a
// self-hosted server: the Prefect 1 CLI's login queries (auth_info and
// tenant lookups) and the tenant those responses name.
package prefect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prefect-auth-proxy/prefect-auth-proxy/internal/logging"
)

// Tenant is the one Prefect 1 tenant the proxy reports to Cloud clients.
type Tenant struct {
	ID   string
	Name string
	Slug string
}

// ErrTenantAmbiguous means TENANT_ID is unset and the upstream has no
// tenant or several, so the proxy cannot choose one.
var ErrTenantAmbiguous = errors.New("tenant cannot be chosen: set TENANT_ID to the id of the Prefect Server tenant")

// tenantQuery requests every tenant from the upstream. Prefect Server does no
// tenant scoping, so the response lists all of them.
const tenantQuery = `{"query":"query { tenant { id name slug } }"}`

// retryInterval is the minimum time between two upstream tenant lookups
// after a failure, so a down upstream is not asked on every login.
const retryInterval = 5 * time.Second

// TenantSource resolves the tenant from configuration and, for what the
// configuration leaves out, from the upstream. It is safe for concurrent use.
type TenantSource struct {
	configured Tenant
	endpoint   string
	client     *http.Client
	logger     *slog.Logger

	mu        sync.Mutex
	resolved  *Tenant
	lastError error
	lastTry   time.Time
}

// NewTenantSource returns a source for the configured tenant fields, asking
// the GraphQL endpoint for the missing ones.
func NewTenantSource(configured Tenant, endpoint string, client *http.Client, logger *slog.Logger) *TenantSource {
	source := &TenantSource{configured: configured, endpoint: endpoint, client: client, logger: logger}
	if configured.ID != "" && configured.Name != "" && configured.Slug != "" {
		source.resolved = &configured
	}
	return source
}

// Tenant returns the tenant, asking the upstream when it is not known yet.
// A failed lookup is retried at most every five seconds.
func (s *TenantSource) Tenant(ctx context.Context) (Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.resolved != nil {
		return *s.resolved, nil
	}
	if !s.lastTry.IsZero() && time.Since(s.lastTry) < retryInterval {
		return s.fallback()
	}

	s.lastTry = time.Now()
	tenant, err := s.lookup(ctx)
	if err != nil {
		s.lastError = err
		s.logger.Warn("tenant lookup failed", logging.KeyUpstream, s.endpoint, logging.KeyError, err)
		return s.fallback()
	}

	s.resolved = &tenant
	s.lastError = nil
	s.logger.Info("tenant resolved", "tenant_id", tenant.ID, "tenant_slug", tenant.Slug)
	return tenant, nil
}

// fallback returns the tenant fields that configuration alone provides when the upstream could
// not complete it: a configured id is enough to respond to logins.
func (s *TenantSource) fallback() (Tenant, error) {
	if s.configured.ID != "" && !errors.Is(s.lastError, ErrTenantAmbiguous) {
		return s.configured, nil
	}
	return Tenant{}, s.lastError
}

func (s *TenantSource) lookup(ctx context.Context) (Tenant, error) {
	tenants, err := s.fetch(ctx)
	if err != nil {
		return Tenant{}, err
	}
	return choose(s.configured, tenants)
}

// choose picks the configured tenant among the upstream's, or the only one
// when no id is configured, and completes the missing name and slug.
func choose(configured Tenant, tenants []Tenant) (Tenant, error) {
	var found *Tenant
	switch {
	case configured.ID != "":
		for i := range tenants {
			if tenants[i].ID == configured.ID {
				found = &tenants[i]
			}
		}
		if found == nil {
			return Tenant{}, fmt.Errorf("TENANT_ID %s is not a tenant of the upstream (it has %d): %w", configured.ID, len(tenants), ErrTenantAmbiguous)
		}
	case len(tenants) == 1:
		found = &tenants[0]
	default:
		return Tenant{}, fmt.Errorf("upstream has %d tenants: %w", len(tenants), ErrTenantAmbiguous)
	}

	tenant := *found
	if configured.Name != "" {
		tenant.Name = configured.Name
	}
	if configured.Slug != "" {
		tenant.Slug = configured.Slug
	}
	return tenant, nil
}

func (s *TenantSource) fetch(ctx context.Context) ([]Tenant, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	request, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader([]byte(tenantQuery)))
	if err != nil {
		return nil, fmt.Errorf("build tenant query: %w", err)
	}
	request.Header.Set("Content-Type", "application/json")

	response, err := s.client.Do(request)
	if err != nil {
		return nil, fmt.Errorf("query upstream tenants: %w", err)
	}
	defer response.Body.Close()

	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read upstream tenants: %w", err)
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query upstream tenants: HTTP %d", response.StatusCode)
	}

	var answer struct {
		Data struct {
			Tenant []Tenant `json:"tenant"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("decode upstream tenants: %w", err)
	}
	if len(answer.Errors) > 0 {
		return nil, fmt.Errorf("query upstream tenants: %s", answer.Errors[0].Message)
	}
	return answer.Data.Tenant, nil
}
