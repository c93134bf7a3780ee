// The names behind the router's auth query (`router.auth_query`, on by
// default), in one place for the loader (the implicit role), the planner (the
// objects in database `postgres`) and `tusk up` (the router spec).
//
// Like PgBouncer's auth_user/auth_query: for a login role tusk does not
// manage, the router connects to kRouterAuthDatabase as kRouterAuthRole and
// runs kRouterAuthQuery with $1 = the client's role name, getting zero rows or
// one row (rolname, rolpassword). kRouterAuthFunction is a SECURITY DEFINER
// function owned by the bootstrap superuser that returns only non-superuser,
// non-replication, login-able, unexpired roles; only kRouterAuthRole (and
// superusers) may execute it. The planner creates and repairs it (plan.h).
// Sources: PgBouncer docs, auth_user / auth_query; PostgreSQL docs, CREATE
// FUNCTION §"Writing SECURITY DEFINER Functions Safely".
#pragma once

namespace tusk::config {

/// The login role the router authenticates as to run the auth query. A
/// reserved name: the config may not declare a role (or owner) called so.
inline constexpr char kRouterAuthRole[] = "tusk_router_auth";
/// The database the auth query runs in (it always exists; tusk manages
/// nothing else there).
inline constexpr char kRouterAuthDatabase[] = "postgres";
/// Schema holding the lookup function, in kRouterAuthDatabase.
inline constexpr char kRouterAuthSchema[] = "tusk_router";
/// The lookup function's signature, as regprocedure input.
inline constexpr char kRouterAuthFunction[] = "tusk_router.lookup(text)";
/// The query the router runs; $1 = role name; zero rows or (rolname, rolpassword).
inline constexpr char kRouterAuthQuery[] =
    "SELECT rolname, rolpassword FROM tusk_router.lookup($1)";

}  // namespace tusk::config
