{#-
    Score rows with a Gaussian naive Bayes model stored in long form (one row per
    class and feature, as training.export_gaussian_nb writes it). Classes,
    features and transforms are read from the parameters at execution time, so a
    retrained model with other classes or features scores with no SQL edit.
-#}

{% macro gaussian_nb_score(features, key_columns, params, label_column='predicted_label', probability_prefix='p_') -%}
    {{ return(adapter.dispatch('gaussian_nb_score', 'image_quality')(features, key_columns, params, label_column, probability_prefix)) }}
{%- endmacro %}

{% macro default__gaussian_nb_score(features, key_columns, params, label_column, probability_prefix) -%}
{%- set model = image_quality.gaussian_nb_model(params) -%}
{%- set keys = key_columns | join(', ') -%}
{%- set keys_of_jll = [] -%}
{%- for key in key_columns -%}{%- do keys_of_jll.append('jll.' ~ key) -%}{%- endfor -%}
with scored_rows as (
    -- a row lacking any feature cannot be scored (scikit-learn would refuse it too)
    select
        {{ keys }},
        {{ model.features | join(', ') }}
    from {{ features }}
    where
        {% for feature in model.features -%}
        {{ feature }} is not null{{ ' and' if not loop.last }}
        {% endfor %}
),

feature_values as (
    {% for feature in model.features -%}
    select
        {{ keys }},
        '{{ feature }}' as feature,
        {{ image_quality.feature_transform(model.transforms[feature], feature) }} as feature_value
    from scored_rows
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),

model_params as (
    select
        model_version,
        class_label,
        class_index,
        class_prior,
        feature,
        theta,
        var
    from {{ params }}
),

joint_log_likelihood as (
    -- ln P(class) + sum over features of ln N(x; theta, var), as GaussianNB._joint_log_likelihood
    select
        {% for key in key_columns %}feature_values.{{ key }},
        {% endfor -%}
        model_params.model_version,
        model_params.class_label,
        model_params.class_index,
        ln(max(model_params.class_prior))
            - 0.5 * sum(ln(2 * cast(3.141592653589793 as double precision) * model_params.var))
            - 0.5 * sum(
                (feature_values.feature_value - model_params.theta)
                * (feature_values.feature_value - model_params.theta)
                / model_params.var
            ) as jll
    from feature_values
    inner join model_params
        on model_params.feature = feature_values.feature
    group by
        {% for key in key_columns %}feature_values.{{ key }},
        {% endfor -%}
        model_params.model_version,
        model_params.class_label,
        model_params.class_index
),

shifted as (
    -- subtracting the row's largest jll keeps exp() finite whatever the magnitudes
    select
        jll.*,
        jll.jll - max(jll.jll) over (partition by {{ keys_of_jll | join(', ') }}) as shifted_jll,
        row_number() over (
            partition by {{ keys_of_jll | join(', ') }}
            order by jll.jll desc, jll.class_index
        ) as class_rank
    from joint_log_likelihood as jll
),

probabilities as (
    select
        shifted.*,
        exp(shifted.shifted_jll)
            / sum(exp(shifted.shifted_jll)) over (partition by {% for key in key_columns %}shifted.{{ key }}{{ ', ' if not loop.last }}{% endfor %})
            as probability
    from shifted
),

final as (
    select
        -- keys
        {{ keys }},
        -- prediction: argmax, ties to the lowest class_index as numpy's argmax
        max(model_version) as model_version,
        max(case when class_rank = 1 then class_label end) as {{ label_column }},
        -- one probability per class
        {% for class_label in model.classes -%}
        max(case when class_label = '{{ class_label }}' then probability end) as {{ probability_prefix ~ class_label }}{{ ',' if not loop.last }}
        {% endfor %}
    from probabilities
    group by {{ keys }}
)

select * from final
{%- endmacro %}


{#-
    The shape of the model in a parameters relation: its classes (by
    class_index), features (by name) and each feature's transform.
    Reads the relation when dbt executes; at parse time returns an empty model.
-#}

{% macro gaussian_nb_model(params) -%}
    {{ return(adapter.dispatch('gaussian_nb_model', 'image_quality')(params)) }}
{%- endmacro %}

{% macro default__gaussian_nb_model(params) -%}
    {%- set model = {'classes': [], 'features': [], 'transforms': {}, 'model_versions': []} -%}
    {%- if not execute -%}
        {{ return(model) }}
    {%- endif -%}
    {%- set sql -%}
        select distinct model_version, class_index, class_label, feature, feature_transform
        from {{ params }}
        order by class_index, feature
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- set identifier = modules.re.compile('^[a-z_][a-z0-9_]*$') -%}
    {%- for row in rows -%}
        {%- if row['model_version'] not in model.model_versions -%}
            {%- do model.model_versions.append(row['model_version']) -%}
        {%- endif -%}
        {%- if row['class_label'] not in model.classes -%}
            {%- do model.classes.append(row['class_label']) -%}
        {%- endif -%}
        {%- if row['feature'] not in model.features -%}
            {%- do model.features.append(row['feature']) -%}
            {%- do model.transforms.update({row['feature']: row['feature_transform']}) -%}
        {%- elif model.transforms[row['feature']] != row['feature_transform'] -%}
            {{ exceptions.raise_compiler_error("feature " ~ row['feature'] ~ " has two transforms in " ~ params) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if model.model_versions | length != 1 -%}
        {{ exceptions.raise_compiler_error(params ~ " must hold exactly one model_version, found " ~ (model.model_versions | length)) }}
    {%- endif -%}
    {%- for name in model.classes + model.features -%}
        {%- if not identifier.match(name) -%}
            {{ exceptions.raise_compiler_error("class and feature names must be lower-case SQL identifiers: " ~ name) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if rows | length != (model.classes | length) * (model.features | length) -%}
        {{ exceptions.raise_compiler_error(params ~ " must hold one row per class and feature") }}
    {%- endif -%}
    {{ return(model) }}
{%- endmacro %}
