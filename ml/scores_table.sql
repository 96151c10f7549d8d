create schema if not exists scores;
create table if not exists {table} (
    {entity_key} text not null,
    as_of_date date not null,
    feature_as_of_date date not null,
    score double precision not null,
    {band},
    {reasons},
    reason_method text not null,
    model_name text not null,
    model_version text not null,
    run_id text not null,
    scored_at timestamptz not null,
    primary key (as_of_date, {entity_key})
) partition by list (as_of_date)
