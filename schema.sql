-- Tables the keyless function reads and writes, with sample rows.
--
-- Safe to run more than once: tables are created only when missing, and the sample clients
-- are inserted only while the clients table is empty.

create table if not exists clients (
    id bigint generated always as identity primary key,
    email text not null unique,
    name text not null,
    phone text,
    created_at timestamptz not null default now(),
    attributes jsonb not null default '{}'
);

-- One row (id is always true) that the timer job refreshes with counts over clients.
create table if not exists client_summary (
    id boolean primary key default true check (id),
    total bigint,
    newest_created_at timestamptz,
    refreshed_at timestamptz
);

insert into clients (email, name, phone, created_at, attributes)
select sample.email, sample.name, sample.phone, sample.created_at, sample.attributes
from (
    values
        ('ana.souza@example.com', 'Ana Souza', '+55 11 91234-5678',
         timestamptz '2024-03-04 09:15:00+00',
         '{"tier": "gold", "newsletter": true, "tags": ["retail", "sao-paulo"]}'::jsonb),
        ('lukas.meyer@example.org', 'Lukas Meyer', '+49 30 1234567',
         timestamptz '2024-06-17 14:02:31+00',
         '{"tier": "silver", "newsletter": false, "preferred_language": "de"}'::jsonb),
        ('priya.raman@example.net', 'Priya Raman', null,
         timestamptz '2024-11-28 22:47:05+00',
         '{"tier": "bronze", "tags": ["wholesale"], "credit_limit": 2500.00}'::jsonb),
        ('kenji.watanabe@example.com', 'Kenji Watanabe', '+81 3-1234-5678',
         timestamptz '2025-01-09 03:30:00+00',
         '{"tier": "gold", "account_manager": "m.costa", "tags": []}'::jsonb),
        ('chloe.martin@example.fr', 'Chloé Martin', '+33 1 23 45 67 89',
         timestamptz '2025-02-14 11:00:00+00',
         '{}'::jsonb)
) as sample (email, name, phone, created_at, attributes)
where not exists (select 1 from clients)
on conflict (email) do nothing;

insert into client_summary (total, newest_created_at, refreshed_at)
select count(*), max(created_at), now()
from clients
on conflict (id) do nothing;
