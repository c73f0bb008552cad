import { client, fetchSession } from "./api.ts";

/**
 * Who the signed-in admin is. The session gives the CSRF token and a first guess at the role;
 * `admin.me` decides it. Only operators see the buttons that act, and the api checks the role
 * again on every call, so hiding them is for the admin's sake, not the only guard.
 */

export type Role = "operator" | "viewer";

export interface Admin {
  userId: string;
  role: Role | null;
}

let current: Admin | null = null;

/** Until `admin.me` answers: the role from the session's `roles` claim (display only). */
function roleOf(roles: string[]): Role | null {
  if (roles.includes("propgate:operator") || roles.includes("propgate:admin")) return "operator";
  if (roles.includes("propgate:viewer")) return "viewer";
  return null;
}

/** Reads the session, then `admin.me`; `onChange` hears the guess and then the answer. */
export function signedInAdmin(onChange: (admin: Admin) => void): Promise<Admin> {
  return fetchSession().then(async (session) => {
    onChange({ userId: session.userId, role: roleOf(session.roles) });
    const me = await client.admin.me.query();
    current = { userId: me.userId, role: me.role };
    onChange(current);
    return current;
  });
}

/** Whether the buttons that act are shown (false until `admin.me` has answered). */
export function canAct(): boolean {
  return current?.role === "operator";
}
