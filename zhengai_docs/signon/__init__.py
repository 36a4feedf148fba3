"""Campus sign-on: CAS and LDAP sign-in, just-in-time accounts and the directory → role rules (no Flask here).

`cas` and `ldap` turn what the campus identity platform says into a `DirectoryIdentity`;
`accounts.provision` makes or updates the account it names and applies `mapping`'s rules at every
sign-in; `passwords` is the password form's check (local accounts, then LDAP); `switch` holds the
administrators' "local passwords" switch.
"""
