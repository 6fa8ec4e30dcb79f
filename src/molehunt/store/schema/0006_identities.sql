-- Identity map (issue 12): which person an account, SID, e-mail address, host or IP range
-- stands for, and when. One row per identity; `molehunt ingest identities` replaces the whole
-- map (a map is a snapshot). Native log ingest resolves identities through it and the LDAP
-- `people` table; what neither knows is listed by `molehunt status` as unmapped.

CREATE TABLE identities (
    person        VARCHAR NOT NULL,   -- the person's user id (the one detection and LDAP use)
    kind          VARCHAR NOT NULL,   -- person | service | machine (service and machine are kept apart)
    identity_type VARCHAR NOT NULL,   -- account | sid | email | host | ip
    identity      VARCHAR NOT NULL,   -- normalised: lower-case account, e-mail and host names,
                                      -- upper-case SID, an IP network in CIDR notation
    valid_from    DATE,               -- first day it holds (UTC), NULL: always
    valid_to      DATE,               -- last day it holds (UTC, inclusive), NULL: still holds
    source_path   VARCHAR NOT NULL,
    source_line   BIGINT NOT NULL
);
