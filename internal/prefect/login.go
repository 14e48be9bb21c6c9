package prefect

import (
	"bytes"
	"encoding/json"

	"github.com/vektah/gqlparser/v2/ast"
)

// Root fields of the Prefect 1 CLI's Cloud login (prefect auth login and
// prefect auth switch-tenants, Prefect 1.4). Prefect Server has no auth_info
// field and no tenant scoping, so the proxy responds to them itself.
const (
	fieldAuthInfo = "auth_info"
	fieldTenant   = "tenant"
	fieldTypename = "__typename"
)

// Login is a parsed Cloud login operation, ready for a local response.
type Login struct {
	fields []*ast.Field
	where  map[string]tenantFilter
}

// tenantFilter is the one comparison a tenant(where: ...) argument makes.
type tenantFilter struct {
	column string // "id" or "slug"
	value  string
}

// ParseLogin reports whether an operation is a Cloud login that the proxy
// responds to itself: a query whose root fields are only auth_info and tenant
// with a where argument that selects by id or slug with _eq. Anything else,
// including tenant without where, goes to the upstream.
func ParseLogin(operation *ast.OperationDefinition, rootFields []*ast.Field, variables map[string]any) (*Login, bool) {
	if operation == nil || operation.Operation != ast.Query || len(rootFields) == 0 {
		return nil, false
	}

	login := &Login{fields: rootFields, where: map[string]tenantFilter{}}
	hasLoginField := false
	for _, field := range rootFields {
		switch field.Name {
		case fieldTypename:
		case fieldAuthInfo:
			if len(field.Arguments) > 0 || !onlySubfields(field, "tenant_id", "user_id", "license", "role_id", "permissions", fieldTypename) {
				return nil, false
			}
			hasLoginField = true
		case fieldTenant:
			filter, ok := parseTenantWhere(field, variables)
			if !ok || !onlySubfields(field, "id", "name", "slug", fieldTypename) {
				return nil, false
			}
			login.where[field.Alias] = filter
			hasLoginField = true
		default:
			return nil, false
		}
	}
	return login, hasLoginField
}

// onlySubfields reports whether every selection under field is a plain
// field among names. Fragments under a login field are not handled locally.
func onlySubfields(field *ast.Field, names ...string) bool {
	for _, selection := range field.SelectionSet {
		sub, ok := selection.(*ast.Field)
		if !ok || len(sub.SelectionSet) > 0 {
			return false
		}
		known := false
		for _, name := range names {
			if sub.Name == name {
				known = true
			}
		}
		if !known {
			return false
		}
	}
	return len(field.SelectionSet) > 0
}

// parseTenantWhere accepts exactly tenant(where: {id: {_eq: X}}) or
// tenant(where: {slug: {_eq: X}}), with X a literal or a variable.
func parseTenantWhere(field *ast.Field, variables map[string]any) (tenantFilter, bool) {
	if len(field.Arguments) != 1 || field.Arguments[0].Name != "where" {
		return tenantFilter{}, false
	}
	value, err := field.Arguments[0].Value.Value(variables)
	if err != nil {
		return tenantFilter{}, false
	}

	where, ok := value.(map[string]any)
	if !ok || len(where) != 1 {
		return tenantFilter{}, false
	}
	for column, condition := range where {
		if column != "id" && column != "slug" {
			return tenantFilter{}, false
		}
		comparison, ok := condition.(map[string]any)
		if !ok || len(comparison) != 1 {
			return tenantFilter{}, false
		}
		wanted, ok := comparison["_eq"].(string)
		if !ok {
			return tenantFilter{}, false
		}
		return tenantFilter{column: column, value: wanted}, true
	}
	return tenantFilter{}, false
}

// Answer returns the GraphQL data object for the login operation, with
// exactly the fields the client requested, under their aliases. The
// Prefect 1 CLI builds a dataclass from the tenant object, so it must not
// carry fields that were not requested.
func (l *Login) Answer(tenant Tenant, userID string) json.RawMessage {
	var out bytes.Buffer
	out.WriteString(`{"data":{`)
	for i, field := range l.fields {
		if i > 0 {
			out.WriteByte(',')
		}
		writeString(&out, field.Alias)
		out.WriteByte(':')

		switch field.Name {
		case fieldTypename:
			writeString(&out, "query_root")
		case fieldAuthInfo:
			writeObject(&out, field, func(name string) any {
				switch name {
				case "tenant_id":
					return tenant.ID
				case "user_id":
					return userID
				case fieldTypename:
					return "auth_info"
				}
				return nil
			})
		case fieldTenant:
			l.writeTenants(&out, field, tenant)
		}
	}
	out.WriteString(`}}`)
	return out.Bytes()
}

func (l *Login) writeTenants(out *bytes.Buffer, field *ast.Field, tenant Tenant) {
	filter := l.where[field.Alias]
	matches := (filter.column == "id" && filter.value == tenant.ID) ||
		(filter.column == "slug" && filter.value == tenant.Slug)
	if !matches {
		out.WriteString("[]")
		return
	}

	out.WriteByte('[')
	writeObject(out, field, func(name string) any {
		switch name {
		case "id":
			return tenant.ID
		case "name":
			return tenant.Name
		case "slug":
			return tenant.Slug
		case fieldTypename:
			return "tenant"
		}
		return nil
	})
	out.WriteByte(']')
}

// writeObject writes the selection set of field as a JSON object, taking
// each value from valueOf by field name and keying it by alias.
func writeObject(out *bytes.Buffer, field *ast.Field, valueOf func(name string) any) {
	out.WriteByte('{')
	for i, selection := range field.SelectionSet {
		sub := selection.(*ast.Field)
		if i > 0 {
			out.WriteByte(',')
		}
		writeString(out, sub.Alias)
		out.WriteByte(':')
		encoded, _ := json.Marshal(valueOf(sub.Name))
		out.Write(encoded)
	}
	out.WriteByte('}')
}

func writeString(out *bytes.Buffer, s string) {
	encoded, _ := json.Marshal(s)
	out.Write(encoded)
}
