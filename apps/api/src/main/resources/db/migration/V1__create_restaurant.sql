CREATE TABLE restaurant (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       VARCHAR(120) NOT NULL,
    cuisine    VARCHAR(60)  NOT NULL,
    city       VARCHAR(80)  NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE INDEX restaurant_city_idx ON restaurant (city);
