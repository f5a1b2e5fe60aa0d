-- Demo data for local development (`make dev`, `make db-reset`). Never run in production.
-- Every demo user's password is demo-password-123 (bcrypt, cost 10); the local
-- stack re-hashes it when DEMO_PASSWORD overrides it. Written so that real
-- Supabase Auth can sign these users in too: its token columns are read as
-- strings (NULL fails every sign-in), and each user has its `email` identity.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change,
  email_change_token_current, phone_change, phone_change_token, reauthentication_token
)
select instance_id::uuid, id::uuid, aud, role, email, encrypted_password, email_confirmed_at,
       raw_app_meta_data::jsonb, raw_user_meta_data::jsonb, created_at, updated_at, '', '', '', '', '', '', '', ''
from (values
  ('00000000-0000-0000-0000-000000000000', '00000000-0000-4000-8000-00000000a001', 'authenticated', 'authenticated',
   'admin@example.com', '$2b$10$WRNjKpDKqc8igdyXcbOp6OTUjoqK50IyMhrgPZPVfGC57We6Hb3ra', now(),
   '{"provider":"email","providers":["email"]}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', '00000000-0000-4000-8000-00000000a002', 'authenticated', 'authenticated',
   'manager@example.com', '$2b$10$WRNjKpDKqc8igdyXcbOp6OTUjoqK50IyMhrgPZPVfGC57We6Hb3ra', now(),
   '{"provider":"email","providers":["email"]}', '{}', now(), now()),
  ('00000000-0000-0000-0000-000000000000', '00000000-0000-4000-8000-00000000a003', 'authenticated', 'authenticated',
   'member@example.com', '$2b$10$WRNjKpDKqc8igdyXcbOp6OTUjoqK50IyMhrgPZPVfGC57We6Hb3ra', now(),
   '{"provider":"email","providers":["email"]}', '{}', now(), now())
) as demo (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
           raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
on conflict (id) do nothing;
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
       'email', now(), now(), now()
from auth.users u
where u.email in ('admin@example.com', 'manager@example.com', 'member@example.com')
on conflict (provider_id, provider) do nothing;
-- Roles of the demo users (everyone else signs up as member).
update public.user_roles set role = 'admin' where user_id = '00000000-0000-4000-8000-00000000a001';
update public.user_roles set role = 'manager' where user_id = '00000000-0000-4000-8000-00000000a002';

-- A few dozen vehicles; North American VINs carry valid check digits.
insert into public.vehicles (id, vin, make, model, model_year, plate, color, odometer_km, status, owner_id)
values
  ('00000000-0000-4000-9000-000000000001', '4T1SRJGF6D4001338', 'Toyota', 'Camry', 2013, 'AUG-9928', 'black', 158815, 'retired', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000002', '5YJZTC6HXC1184959', 'Tesla', 'Model 3', 2012, 'ZCB-4733', 'silver', 51407, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000003', '1C4RXDRC3RX641395', 'Jeep', 'Wrangler', 2024, null, 'white', 56738, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000004', 'WBAZZZL4E116TAHUY', 'BMW', '320i', 2011, null, 'grey', 30242, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000005', '1FTAX8BH0E0430391', 'Ford', 'F-150', 2014, null, 'grey', 23453, 'retired', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000006', '2T1055HS0GR150983', 'Toyota', 'Corolla', 2016, null, 'silver', 155256, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000007', '3VWPJ7S71H3311656', 'Volkswagen', 'Jetta', 2017, null, 'blue', 108767, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000008', '3VWSE5GD7PA132677', 'Volkswagen', 'Jetta', 2023, null, 'blue', 57032, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000009', '1HGD79LD1B9121913', 'Honda', 'Civic', 2011, null, 'blue', 106847, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000010', '1HGA6GEP7K9425135', 'Honda', 'Accord', 2019, null, 'grey', 75707, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000011', '1HGKUVPY9EP487401', 'Honda', 'Accord', 2014, 'PJB-1058', null, 167273, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000012', '1FT4JCW01MC533158', 'Ford', 'F-150', 2021, null, null, 232770, 'active', '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000013', '5YJ3SULG1F1073375', 'Tesla', 'Model 3', 2015, 'HHA-4164', 'white', 81003, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000014', '2T1ZX49H8B1934060', 'Toyota', 'Corolla', 2011, 'UYY-4228', 'blue', 137293, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000015', '1C4JN31M5NW680443', 'Jeep', 'Wrangler', 2022, 'VWX-6279', 'blue', 113692, 'retired', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000016', 'JHMYFSWRNKBCS7E63', 'Honda', 'Fit', 2019, 'XVG-7291', 'blue', 233295, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000017', 'WBAZZZM6DSH6J6X59', 'BMW', '320i', 2013, 'URF-8777', 'white', 112867, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000018', '1C4FJKR15JK316658', 'Jeep', 'Wrangler', 2018, 'PBG-7883', null, 123139, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000019', '2T1L6JB21AB162720', 'Toyota', 'Corolla', 2010, 'NLG-8449', 'white', 69198, 'maintenance', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000020', '1HGP6T0L9HH241904', 'Honda', 'Accord', 2017, null, 'red', 151941, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000021', '2T18G4065LK628498', 'Toyota', 'Corolla', 2020, 'SRP-5397', null, 204067, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000022', '4T1YUUAN7SF367837', 'Toyota', 'Camry', 2025, null, 'white', 170319, 'active', '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000023', '1C4YZ6UW4MT313518', 'Jeep', 'Wrangler', 2021, 'ZFG-4545', 'white', 200803, 'active', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000024', '1FTUCDVJ0A8109477', 'Ford', 'F-150', 2010, 'LFB-5136', 'silver', 116466, 'active', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000025', '3VWW4WDG2NP341232', 'Volkswagen', 'Jetta', 2022, 'CFA-7693', 'grey', 145701, 'retired', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000026', '4T16ERTN5H4183242', 'Toyota', 'Camry', 2017, 'BFK-5728', 'silver', 19719, 'retired', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000027', 'VF1ZZZCM75UM48F7Z', 'Renault', 'Clio', 2010, null, 'white', 108046, 'maintenance', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000028', '1G1085DP0RU824771', 'Chevrolet', 'Malibu', 2024, 'XWH-3594', 'red', 8567, 'active', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000029', 'JHM9JEU3Y9UAVW8K5', 'Honda', 'Fit', 2014, 'SML-9903', 'blue', 142185, 'active', '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000030', '2T11K8CJXL9951718', 'Toyota', 'Corolla', 2020, null, 'silver', 239666, 'retired', '00000000-0000-4000-8000-00000000a001');

-- Spread creation times over the past two years, as real data would be. The
-- triggers keep created_at immutable (rightly), so they are bypassed for this one
-- update: by the table's owner, not session_replication_role, which needs a
-- superuser that a hosted project does not give.
alter table public.vehicles disable trigger user;
update public.vehicles set created_at = now() - make_interval(days => d.days), updated_at = now() - make_interval(days => d.days)
from (values
  ('00000000-0000-4000-9000-000000000001'::uuid, 604),
  ('00000000-0000-4000-9000-000000000002'::uuid, 104),
  ('00000000-0000-4000-9000-000000000003'::uuid, 253),
  ('00000000-0000-4000-9000-000000000004'::uuid, 513),
  ('00000000-0000-4000-9000-000000000005'::uuid, 563),
  ('00000000-0000-4000-9000-000000000006'::uuid, 339),
  ('00000000-0000-4000-9000-000000000007'::uuid, 112),
  ('00000000-0000-4000-9000-000000000008'::uuid, 466),
  ('00000000-0000-4000-9000-000000000009'::uuid, 268),
  ('00000000-0000-4000-9000-000000000010'::uuid, 680),
  ('00000000-0000-4000-9000-000000000011'::uuid, 653),
  ('00000000-0000-4000-9000-000000000012'::uuid, 423),
  ('00000000-0000-4000-9000-000000000013'::uuid, 72),
  ('00000000-0000-4000-9000-000000000014'::uuid, 681),
  ('00000000-0000-4000-9000-000000000015'::uuid, 692),
  ('00000000-0000-4000-9000-000000000016'::uuid, 152),
  ('00000000-0000-4000-9000-000000000017'::uuid, 653),
  ('00000000-0000-4000-9000-000000000018'::uuid, 590),
  ('00000000-0000-4000-9000-000000000019'::uuid, 285),
  ('00000000-0000-4000-9000-000000000020'::uuid, 105),
  ('00000000-0000-4000-9000-000000000021'::uuid, 89),
  ('00000000-0000-4000-9000-000000000022'::uuid, 415),
  ('00000000-0000-4000-9000-000000000023'::uuid, 103),
  ('00000000-0000-4000-9000-000000000024'::uuid, 411),
  ('00000000-0000-4000-9000-000000000025'::uuid, 299),
  ('00000000-0000-4000-9000-000000000026'::uuid, 312),
  ('00000000-0000-4000-9000-000000000027'::uuid, 508),
  ('00000000-0000-4000-9000-000000000028'::uuid, 566),
  ('00000000-0000-4000-9000-000000000029'::uuid, 194),
  ('00000000-0000-4000-9000-000000000030'::uuid, 272)
) as d (id, days)
where vehicles.id = d.id;
alter table public.vehicles enable trigger user;

insert into public.maintenance_records (vehicle_id, performed_at, odometer_km, kind, description, cost_cents, created_by)
values
  ('00000000-0000-4000-9000-000000000001', current_date - 165, 157958, 'service', 'Oil and filter', 57392, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000001', current_date - 161, 157595, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000002', current_date - 118, 50582, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000002', current_date - 92, 50193, 'inspection', 'Annual inspection', 89841, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000002', current_date - 45, 49088, 'service', 'Oil and filter', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000003', current_date - 221, 55940, 'other', 'Detailing', 54350, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000003', current_date - 72, 55218, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000004', current_date - 110, 29422, 'other', 'Detailing', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000005', current_date - 542, 22643, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000007', current_date - 50, 107993, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000008', current_date - 358, 56158, 'tires', 'Winter tires fitted', 74845, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000008', current_date - 99, 55730, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000009', current_date - 124, 106212, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000011', current_date - 454, 166491, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000011', current_date - 79, 165567, 'service', 'Oil and filter', null, '00000000-0000-4000-8000-00000000a003'),
  ('00000000-0000-4000-9000-000000000013', current_date - 84, 80243, 'inspection', 'Annual inspection', 54386, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000013', current_date - 16, 79737, 'service', 'Oil and filter', 25405, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000014', current_date - 323, 136454, 'other', 'Detailing', 18334, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000014', current_date - 318, 135611, 'other', 'Detailing', 55528, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000015', current_date - 486, 112816, 'other', 'Detailing', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000017', current_date - 498, 112047, 'other', 'Detailing', 33358, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000017', current_date - 81, 111137, 'tires', 'Winter tires fitted', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000018', current_date - 8, 122459, 'tires', 'Winter tires fitted', 41139, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000018', current_date - 553, 121375, 'tires', 'Winter tires fitted', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000018', current_date - 226, 121222, 'tires', 'Winter tires fitted', 59125, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000019', current_date - 43, 68458, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000019', current_date - 116, 67534, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000019', current_date - 128, 67392, 'service', 'Oil and filter', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000020', current_date - 32, 151152, 'other', 'Detailing', 7383, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000020', current_date - 111, 150265, 'other', 'Detailing', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000021', current_date - 33, 203183, 'tires', 'Winter tires fitted', 62910, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000021', current_date - 5, 202561, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000022', current_date - 341, 169522, 'inspection', 'Annual inspection', 50368, '00000000-0000-4000-8000-00000000a002'),
  ('00000000-0000-4000-9000-000000000023', current_date - 60, 200119, 'inspection', 'Annual inspection', 25519, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000024', current_date - 297, 115644, 'service', 'Oil and filter', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000024', current_date - 417, 114890, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000024', current_date - 62, 114111, 'repair', 'Brake pads replaced', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000026', current_date - 258, 18943, 'inspection', 'Annual inspection', 66722, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000026', current_date - 308, 18679, 'service', 'Oil and filter', 58626, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000026', current_date - 130, 18180, 'other', 'Detailing', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000027', current_date - 39, 107314, 'tires', 'Winter tires fitted', 13542, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000027', current_date - 333, 106928, 'inspection', 'Annual inspection', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000028', current_date - 232, 8009, 'service', 'Oil and filter', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000028', current_date - 512, 6835, 'repair', 'Brake pads replaced', 40254, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000028', current_date - 496, 6344, 'tires', 'Winter tires fitted', 33946, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000029', current_date - 100, 141566, 'other', 'Detailing', null, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000030', current_date - 205, 238834, 'other', 'Detailing', 12527, '00000000-0000-4000-8000-00000000a001'),
  ('00000000-0000-4000-9000-000000000030', current_date - 196, 238342, 'other', 'Detailing', 84155, '00000000-0000-4000-8000-00000000a001');
