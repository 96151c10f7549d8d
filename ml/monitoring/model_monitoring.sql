create schema if not exists monitoring;
create table if not exists monitoring.model_monitoring (
    model text not null,
    version text not null,
    as_of_date date not null,
    metric text not null,
    feature text not null,
    value double precision not null,
    computed_at timestamptz not null,
    primary key (model, as_of_date, metric, feature)
)
